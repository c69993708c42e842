//! Runs oxvif's mock ONVIF fleet as a foreign camera LAN for `vigil-bench discovery --fleet oxvif`:
//! `oxvif-fleet COUNT ADDRESS` starts COUNT devices bound to ADDRESS (which must be an address of this
//! network namespace), prints `ready COUNT`, and runs until its standard input closes.

use std::io::BufRead;
use std::net::Ipv4Addr;
use std::process::ExitCode;

#[path = "../tests/it/oxvif_fleet.rs"]
#[allow(dead_code)] // The credentials are for the tests; this runner only serves the fleet.
mod oxvif_fleet;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(count), Some(address)) = (
        args.get(1).and_then(|c| c.parse::<usize>().ok()),
        args.get(2).and_then(|a| a.parse::<Ipv4Addr>().ok()),
    ) else {
        eprintln!("usage: oxvif-fleet COUNT ADDRESS");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("oxvif-fleet: cannot start the runtime: {error}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let fleet = match oxvif_fleet::start(count, address).await {
            Ok(fleet) => fleet,
            Err(error) => {
                eprintln!("oxvif-fleet: cannot start {count} devices on {address}: {error}");
                return ExitCode::from(1);
            }
        };
        println!("ready {}", fleet.len());
        // Until the parent closes our standard input (or dies).
        let _ = tokio::task::spawn_blocking(|| {
            for line in std::io::stdin().lock().lines() {
                if line.is_err() {
                    break;
                }
            }
        })
        .await;
        let _ = fleet.shutdown().await;
        ExitCode::SUCCESS
    })
}
