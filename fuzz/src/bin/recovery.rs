fn main() {
    afl::fuzz!(|data: &[u8]| sio_cluster_fuzz::hub_targets::recovery(data));
}
