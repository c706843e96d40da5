fn main() {
    afl::fuzz!(|data: &[u8]| sio_cluster_fuzz::core_targets::redis_message(data));
}
