use sio_cluster_core::{
    encode_frame, Frame, FrameDecoder, FrameError, Header, MessageType, MAX_FRAME_LEN,
};

fn header() -> Header {
    Header {
        kind: MessageType::Broadcast,
        nsp: "/chat".into(),
        uid: "8e0c1f3a5b7d9e2f".into(),
        request_id: Some("r-1".into()),
        requester_uid: None,
        rooms: vec!["room1".into(), "42".into()],
        except: vec!["sid-9".into()],
        store: false,
        offset: None,
        joined: vec![],
        left: vec![],
        applied: None,
        reset: false,
    }
}

fn frame(payload: &[u8]) -> Frame {
    Frame {
        header: header(),
        payload: payload.to_vec(),
    }
}

fn encoded(payload: &[u8]) -> Vec<u8> {
    encode_frame(&header(), payload).unwrap()
}

/// A frame around raw header bytes, bypassing `encode_frame`'s checks.
fn raw_frame(header_bytes: &[u8], payload: &[u8]) -> Vec<u8> {
    let len = 4 + header_bytes.len() + payload.len();
    let mut bytes = (len as u32).to_be_bytes().to_vec();
    bytes.extend_from_slice(&(header_bytes.len() as u32).to_be_bytes());
    bytes.extend_from_slice(header_bytes);
    bytes.extend_from_slice(payload);
    bytes
}

fn decoder() -> FrameDecoder {
    FrameDecoder::new(MAX_FRAME_LEN)
}

#[test]
fn layout() {
    let bytes = encoded(b"payload");
    let len = u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let header_len = u32::from_be_bytes(bytes[4..8].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - 4);
    assert_eq!(&bytes[8 + header_len..], b"payload");
    let header: Header = rmp_serde::from_slice(&bytes[8..8 + header_len]).unwrap();
    assert_eq!(header, self::header());
}

#[test]
fn round_trip() {
    let mut decoder = decoder();
    decoder.push(&encoded(b"\x93\xa5hello"));
    assert_eq!(decoder.next_frame(), Ok(Some(frame(b"\x93\xa5hello"))));
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn empty_payload() {
    let mut decoder = decoder();
    decoder.push(&encoded(b""));
    assert_eq!(decoder.next_frame(), Ok(Some(frame(b""))));
}

#[test]
fn split_byte_by_byte() {
    let bytes = encoded(b"some payload");
    let mut decoder = decoder();
    for (i, byte) in bytes.iter().enumerate() {
        assert_eq!(decoder.next_frame(), Ok(None), "before byte {i}");
        decoder.push(std::slice::from_ref(byte));
        assert_eq!(decoder.buffered(), i + 1);
    }
    assert_eq!(decoder.next_frame(), Ok(Some(frame(b"some payload"))));
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn two_frames_in_one_push_and_a_partial_third() {
    let mut bytes = encoded(b"one");
    bytes.extend(encoded(b"two"));
    let third = encoded(b"three");
    bytes.extend_from_slice(&third[..5]);
    let mut decoder = decoder();
    decoder.push(&bytes);
    assert_eq!(decoder.next_frame(), Ok(Some(frame(b"one"))));
    assert_eq!(decoder.next_frame(), Ok(Some(frame(b"two"))));
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.buffered(), 5);
    decoder.push(&third[5..]);
    assert_eq!(decoder.next_frame(), Ok(Some(frame(b"three"))));
}

#[test]
fn truncated_frame_waits() {
    let bytes = encoded(b"payload");
    let mut decoder = decoder();
    decoder.push(&bytes[..bytes.len() - 1]);
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.next_frame(), Ok(None));
    assert_eq!(decoder.buffered(), bytes.len() - 1);
}

#[test]
fn absurd_length_is_rejected_from_the_prefix_alone() {
    let mut decoder = FrameDecoder::new(1024);
    decoder.push(&[0xff, 0xff, 0xff, 0xff]);
    let error = FrameError::TooLarge {
        len: u32::MAX as usize,
        max: 1024,
    };
    assert_eq!(decoder.next_frame(), Err(error.clone()));
    // Poisoned: the rest is neither buffered nor decoded.
    decoder.push(&encoded(b"x"));
    assert_eq!(decoder.buffered(), 0);
    assert_eq!(decoder.next_frame(), Err(error));
}

#[test]
fn header_length_larger_than_the_frame() {
    let mut decoder = decoder();
    decoder.push(&[0, 0, 0, 10, 0, 0, 0, 7]);
    assert_eq!(
        decoder.next_frame(),
        Err(FrameError::BadHeaderLength {
            header_len: 7,
            frame_len: 10
        })
    );
}

#[test]
fn frame_too_short_for_a_header_length() {
    let mut decoder = decoder();
    decoder.push(&[0, 0, 0, 3]);
    assert_eq!(
        decoder.next_frame(),
        Err(FrameError::BadHeaderLength {
            header_len: 0,
            frame_len: 3
        })
    );
}

#[test]
fn undecodable_header() {
    for header_bytes in [&b""[..], b"\xc1", b"\x93\x01\x02\x03", b"\x81\xa1t\x2a"] {
        let mut decoder = decoder();
        decoder.push(&raw_frame(header_bytes, b"p"));
        assert!(
            matches!(decoder.next_frame(), Err(FrameError::BadHeader(_))),
            "{header_bytes:?}"
        );
    }
}

#[test]
fn trailing_bytes_after_the_header() {
    let mut header_bytes = rmp_serde::to_vec_named(&header()).unwrap();
    header_bytes.push(0xc0);
    let mut decoder = decoder();
    decoder.push(&raw_frame(&header_bytes, b""));
    assert!(matches!(
        decoder.next_frame(),
        Err(FrameError::BadHeader(_))
    ));
}

#[test]
fn header_breaking_the_rules() {
    let mut response = header();
    response.kind = MessageType::FetchSocketsResponse; // without requester uid
    assert!(matches!(
        encode_frame(&response, b""),
        Err(FrameError::Invalid(_))
    ));
    let mut decoder = decoder();
    decoder.push(&raw_frame(
        &rmp_serde::to_vec_named(&response).unwrap(),
        b"",
    ));
    assert!(matches!(decoder.next_frame(), Err(FrameError::Invalid(_))));

    let mut empty_uid = header();
    empty_uid.uid.clear();
    let mut decoder = self::decoder();
    decoder.push(&raw_frame(
        &rmp_serde::to_vec_named(&empty_uid).unwrap(),
        b"",
    ));
    assert!(matches!(decoder.next_frame(), Err(FrameError::Invalid(_))));
}

#[test]
fn encode_refuses_oversized_frames() {
    let payload = vec![0u8; MAX_FRAME_LEN];
    assert!(matches!(
        encode_frame(&header(), &payload),
        Err(FrameError::TooLarge {
            max: MAX_FRAME_LEN,
            ..
        })
    ));
}

#[test]
fn errors_display() {
    let error = FrameError::TooLarge { len: 10, max: 5 };
    assert_eq!(
        error.to_string(),
        "frame of 10 bytes exceeds the limit of 5 bytes"
    );
}
