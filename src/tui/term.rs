//! The dashboard's terminal and thread: raw mode on the alternate screen, a frame every 200 ms
//! (5 Hz) from the latest `LiveState`, keys read with crossterm. The terminal is restored when
//! the dashboard ends, when its thread unwinds, and on a panic anywhere (panic hook).

use super::dashboard::{Ui, render};
use super::keys::{Action, WINDOWS, action};
use super::state::Slot;
use crate::engine::Control;
use crossterm::event::{self, Event};
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen};
use crossterm::{cursor, execute, terminal};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use std::io::Stdout;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Time between frames: 5 Hz.
pub const FRAME: Duration = Duration::from_millis(200);

/// Whether the terminal is in the dashboard's mode (raw, alternate screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Put the terminal back as it was; does nothing when it already is.
pub fn restore() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(std::io::stdout(), LeaveAlternateScreen, cursor::Show);
    }
}

/// Restores the terminal when dropped (also while unwinding).
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // First the terminal, so the panic message is readable.
            restore();
            previous(info);
        }));
    });
}

fn enter() -> std::io::Result<Terminal<CrosstermBackend<Stdout>>> {
    install_panic_hook();
    terminal::enable_raw_mode()?;
    // Keys typed (or lines pasted) before the dashboard started are not meant for it: a pasted
    // `q` of a later line must not stop this run. Drop what the terminal holds unread.
    // SAFETY: tcflush only discards the terminal's pending input; fd 0 is ours.
    unsafe {
        libc::tcflush(libc::STDIN_FILENO, libc::TCIFLUSH);
    }
    ACTIVE.store(true, Ordering::SeqCst);
    let mut out = std::io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen, cursor::Hide) {
        restore();
        return Err(e);
    }
    Terminal::new(CrosstermBackend::new(out)).inspect_err(|_| restore())
}

/// A running dashboard.
pub struct Dashboard {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// What the dashboard may act on.
pub struct Hooks {
    pub control: Arc<Control>,
    /// The run's interrupt count: a stop key counts as Ctrl-C (first graceful, then at once).
    pub interrupts: Arc<AtomicUsize>,
    pub started: Instant,
    pub color: bool,
}

impl Dashboard {
    /// Take over the terminal and start drawing what `slot` holds.
    pub fn start(slot: Slot, hooks: Hooks) -> std::io::Result<Dashboard> {
        let mut term = enter()?;
        let done = Arc::new(AtomicBool::new(false));
        let stop = done.clone();
        let thread = std::thread::Builder::new()
            .name("stampede-dashboard".into())
            .spawn(move || {
                let _guard = Guard;
                run(&mut term, &slot, &hooks, &stop);
            })
            .inspect_err(|_| restore())?;
        Ok(Dashboard {
            done,
            thread: Some(thread),
        })
    }

    /// Stop drawing and give the terminal back.
    pub fn finish(&mut self) {
        self.done.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        restore();
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.finish();
    }
}

fn run(term: &mut Terminal<CrosstermBackend<Stdout>>, slot: &Slot, h: &Hooks, done: &AtomicBool) {
    let mut ui = Ui {
        color: h.color,
        ..Ui::default()
    };
    let mut zoom = WINDOWS.iter().position(|w| *w == ui.window).unwrap_or(0);
    while !done.load(Ordering::SeqCst) {
        ui.elapsed = h.started.elapsed();
        ui.paused = h.control.pause.load(Ordering::Relaxed);
        let state = slot.latest();
        if term.draw(|f| render(f, state.as_deref(), &ui)).is_err() {
            return;
        }
        let deadline = Instant::now() + FRAME;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || done.load(Ordering::SeqCst) {
                break;
            }
            match event::poll(left) {
                Ok(true) => {}
                Ok(false) => break,
                Err(_) => return,
            }
            match event::read() {
                Ok(Event::Key(key)) => {
                    match action(&key) {
                        Action::Stop => {
                            ui.stops += 1;
                            h.interrupts.fetch_add(1, Ordering::SeqCst);
                        }
                        Action::TogglePause => {
                            let paused = !h.control.pause.load(Ordering::Relaxed);
                            h.control.pause.store(paused, Ordering::Relaxed);
                        }
                        Action::ZoomIn => zoom = zoom.saturating_sub(1),
                        Action::ZoomOut => zoom = (zoom + 1).min(WINDOWS.len() - 1),
                        Action::ToggleHelp => ui.help = !ui.help,
                        Action::CloseHelp => ui.help = false,
                        Action::None => continue,
                    }
                    ui.window = WINDOWS[zoom];
                    // Show the change at once.
                    break;
                }
                Ok(Event::Resize(..)) => break,
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }
}
