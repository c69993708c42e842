//! Dahua's cameras (and Lorex and the other Dahua-made ones) in their own protocols: DHIP on UDP for
//! discovery, and the JSON RPC over HTTP for everything else. docs/vendors.md names the public sources.

pub mod dhip;
