//! What a WebSocket step (`ws:`) does once connected: a list of actions — send a message, expect
//! one (with checks and a time limit), wait, close.

use super::Want;
use super::template::Template;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct WsSpec {
    /// `Sec-WebSocket-Protocol` offers.
    pub subprotocols: Vec<String>,
    pub actions: Vec<WsAction>,
    /// The longest a session may last, handshake included.
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub enum WsAction {
    Send {
        binary: bool,
        body: Template,
    },
    Expect(WsExpect),
    Wait(Duration),
    /// Close with this code (a session without it closes with 1000 after its last action).
    Close(u16),
}

#[derive(Debug, Clone)]
pub struct WsExpect {
    /// The message contains this text.
    pub contains: Option<Template>,
    /// The message is exactly this text.
    pub equals: Option<Template>,
    /// JSON values at paths of the message.
    pub json: Vec<(serde_json_path::JsonPath, Want)>,
    /// How long to wait for a message that matches; messages that do not match are skipped.
    pub timeout: Duration,
    /// The check id (in `Plan::checks`) this expectation reports as.
    pub check: usize,
}

pub const DEFAULT_EXPECT_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(300);
