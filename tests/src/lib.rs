//! Black-box tests of the kiwi binary.
