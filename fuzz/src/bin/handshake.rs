fn main() {
    afl::fuzz!(|data: &[u8]| sio_cluster_fuzz::link_targets::handshake(data));
}
