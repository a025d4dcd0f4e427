//! Compiles `proto/db_data.proto` (Pinecone's VectorService) with protox, a protobuf compiler in
//! Rust, so the build needs no `protoc`; tonic-prost-build generates the server from the
//! descriptors. The descriptor set is also written to OUT_DIR for `larch proto-descriptor`.
fn main() -> std::io::Result<()> {
    println!("cargo:rerun-if-changed=proto/db_data.proto");
    let fds = protox::compile(["db_data.proto"], ["proto"]).map_err(std::io::Error::other)?;
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").map_err(std::io::Error::other)?);
    std::fs::write(out.join("db_data.fds"), prost::Message::encode_to_vec(&fds))?;
    tonic_prost_build::configure()
        .build_client(false)
        .compile_fds(fds)
}
