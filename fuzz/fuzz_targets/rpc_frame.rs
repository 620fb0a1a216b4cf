//! The peer RPC decoder: what a node does with the bytes another node (or anyone who can reach
//! the Raft port) sends after the handshake.
//!
//! The input is read two ways: as one frame body, decoded into a request and into a response,
//! and as a connection's stream of length-prefixed frames, read with `read_frame` one after
//! another until one fails, as `serve_peer` reads them.
#![no_main]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use kiwi::raft::rpc::{read_frame, RpcRequest, RpcResponse, MAX_FRAME};
use kiwi::raft::{decode, encode};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;

fuzz_target!(init: kiwi_fuzz::catch_stack_overflow(), |data: &[u8]| {
    body::<RpcRequest>(data);
    body::<RpcResponse>(data);
    stream::<RpcRequest>(data);
    stream::<RpcResponse>(data);
});

/// A body that decodes encodes again, and that encoding decodes to a value encoding the same.
fn body<T: Serialize + DeserializeOwned>(data: &[u8]) {
    let Ok(value) = decode::<T>(data) else {
        return;
    };
    let encoded = encode(&value).expect("a decoded value encodes");
    let again: T = decode(&encoded).expect("an encoded value decodes");
    assert_eq!(encode(&again).expect("encodes"), encoded);
}

/// Reads frames off `data` until the stream ends or a frame is refused. Each frame read takes
/// bytes, and a length over the limit is refused before anything is allocated for it.
fn stream<T: DeserializeOwned>(data: &[u8]) {
    let mut reader = data;
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        let before = reader.len();
        let announced = reader
            .first_chunk::<4>()
            .map(|len| u32::from_be_bytes(*len) as usize);
        // A slice is always ready: reading from it never waits.
        let Poll::Ready(result) = pin!(read_frame::<_, T>(&mut reader)).poll(&mut cx) else {
            panic!("reading from memory returned Pending");
        };
        match result {
            Ok(_) => assert!(reader.len() + 4 <= before, "a frame took no bytes"),
            Err(e) => {
                if announced.is_some_and(|len| len > MAX_FRAME) {
                    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData, "{e}");
                }
                return;
            }
        }
    }
}
