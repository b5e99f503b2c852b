//! `resgate approve EVENT_ID`: lets a `mode: approve` fire call its remediator,
//! through the running daemon's API.

use super::Exit;
use super::client::{CallError, Server, call};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The event waiting for approval (`ev-12`; `resgate events` lists them)
    pub id: String,
    #[command(flatten)]
    pub server: Server,
}

pub fn run(args: &Args) -> Exit {
    let path = format!(
        "/api/v1/events/{}/approve",
        percent_encoding::utf8_percent_encode(&args.id, percent_encoding::NON_ALPHANUMERIC)
    );
    match call(&args.server, "POST", &path, None) {
        Ok(_) => {
            println!("approved {}: the remediator is called now", args.id);
            Exit::Ok
        }
        Err(CallError::Refused { status: 404, .. }) => {
            eprintln!("error: the daemon has no event {}", args.id);
            eprintln!("help: `resgate events --data DIR` lists the events and their states");
            Exit::Failed
        }
        Err(e) => e.report(&args.server),
    }
}
