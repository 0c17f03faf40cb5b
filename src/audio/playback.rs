//! A/B playback for the workbench: two preloaded 16 kHz signals (the original stem and its
//! re-synthesis), one shared transport (atomic position, atomic source flag, atomic play flag)
//! and a [`Mixer`] that the audio callback runs. Switching A/B keeps the position and crossfades
//! over a few milliseconds, so there is no gap and no click. The mixer never blocks and never
//! allocates: new tracks are handed over with `try_lock` and picked up on the next buffer.
//!
//! The device side sits behind [`AudioSink`], so the mixing logic is tested with a fake clock
//! (calling [`Mixer::fill`] directly) and the workbench keeps working without a sound card.
//! What the device does once open comes back as [`SinkAnswer`]s: underruns are counted, and a
//! device that stops working (unplugged, its sound server gone) is reported once, its stream
//! closed and the playhead stopped, for the transport pane to say so.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
#[cfg(feature = "playback")]
use std::sync::mpsc::Sender;
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};

use crate::audio::SAMPLE_RATE;

/// Which signal is heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A: the stem as loaded.
    Original,
    /// B: the re-synthesis from the current transcription.
    Resynthesis,
}

impl Source {
    fn from_u8(v: u8) -> Source {
        if v == 1 {
            Source::Resynthesis
        } else {
            Source::Original
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Source::Original => "A original",
            Source::Resynthesis => "B re-synthesis",
        }
    }
}

/// The two signals, mono at [`SAMPLE_RATE`].
#[derive(Debug, Default)]
pub struct Tracks {
    pub original: Vec<f32>,
    /// Empty until a transcription exists; B then plays silence.
    pub resynthesis: Vec<f32>,
}

impl Tracks {
    fn len(&self) -> usize {
        self.original.len().max(self.resynthesis.len())
    }
}

/// Position is stored in 1/65536 of a 16 kHz sample so a device at any rate advances it exactly.
const FRAC: f64 = 65_536.0;
/// Crossfade length on an A/B switch.
pub const CROSSFADE_SECONDS: f64 = 0.005;

/// State shared by the UI thread and the audio callback.
#[derive(Debug, Default)]
pub struct Transport {
    position: AtomicU64,
    playing: AtomicBool,
    source: AtomicU8,
    generation: AtomicU64,
    pending: Mutex<Option<Arc<Tracks>>>,
    length: AtomicU64,
}

impl Transport {
    pub fn position_samples(&self) -> f64 {
        self.position.load(Ordering::Acquire) as f64 / FRAC
    }

    pub fn position_seconds(&self) -> f64 {
        self.position_samples() / SAMPLE_RATE as f64
    }

    pub fn length_seconds(&self) -> f64 {
        self.length.load(Ordering::Acquire) as f64 / SAMPLE_RATE as f64
    }

    pub fn is_playing(&self) -> bool {
        self.playing.load(Ordering::Acquire)
    }

    pub fn source(&self) -> Source {
        Source::from_u8(self.source.load(Ordering::Acquire))
    }

    pub fn set_source(&self, s: Source) {
        self.source.store(s as u8, Ordering::Release);
    }

    /// Switches A/B at the current position; returns the new source.
    pub fn toggle_source(&self) -> Source {
        let next = match self.source() {
            Source::Original => Source::Resynthesis,
            Source::Resynthesis => Source::Original,
        };
        self.set_source(next);
        next
    }

    pub fn set_playing(&self, on: bool) {
        if on && self.position_seconds() >= self.length_seconds() {
            // Play after the end starts again from the top.
            self.seek_seconds(0.0);
        }
        self.playing.store(on, Ordering::Release);
    }

    pub fn stop(&self) {
        self.playing.store(false, Ordering::Release);
        self.seek_seconds(0.0);
    }

    /// Moves the playhead (clamped to the tracks' length).
    pub fn seek_seconds(&self, seconds: f64) {
        let len = self.length.load(Ordering::Acquire) as f64;
        let samples = (seconds * SAMPLE_RATE as f64).clamp(0.0, len);
        self.position
            .store((samples * FRAC) as u64, Ordering::Release);
    }

    /// Hands new tracks to the callback (picked up on its next buffer); the position is kept.
    pub fn set_tracks(&self, tracks: Tracks) {
        let len = tracks.len() as u64;
        if let Ok(mut slot) = self.pending.lock() {
            *slot = Some(Arc::new(tracks));
        }
        self.length.store(len, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        let pos = self.position_samples();
        if pos > len as f64 {
            self.seek_seconds(len as f64 / SAMPLE_RATE as f64);
        }
    }
}

/// What the audio callback runs: reads the transport, writes interleaved output frames.
pub struct Mixer {
    transport: Arc<Transport>,
    tracks: Arc<Tracks>,
    seen_generation: u64,
    /// 16 kHz samples per output frame.
    step: f64,
    /// 0 = all A, 1 = all B; moves toward the requested source by `fade_step` per frame.
    mix: f32,
    fade_step: f32,
}

impl Mixer {
    pub fn new(transport: Arc<Transport>, output_rate: u32) -> Mixer {
        let rate = output_rate.max(1) as f64;
        Mixer {
            mix: if transport.source() == Source::Resynthesis {
                1.0
            } else {
                0.0
            },
            transport,
            tracks: Arc::new(Tracks::default()),
            seen_generation: 0,
            step: SAMPLE_RATE as f64 / rate,
            fade_step: (1.0 / (CROSSFADE_SECONDS * rate)).min(1.0) as f32,
        }
    }

    /// Fills `out` (interleaved, `channels` per frame) and advances the transport.
    pub fn fill(&mut self, out: &mut [f32], channels: usize) {
        let channels = channels.max(1);
        self.pick_up_tracks();
        let target = match self.transport.source() {
            Source::Original => 0.0,
            Source::Resynthesis => 1.0,
        };
        if !self.transport.is_playing() {
            out.fill(0.0);
            self.mix = target;
            return;
        }
        let start_raw = self.transport.position.load(Ordering::Acquire);
        let mut pos = start_raw as f64 / FRAC;
        let len = self.tracks.len() as f64;
        let mut ended = false;
        for frame in out.chunks_mut(channels) {
            let v = if pos < len {
                let a = sample_at(&self.tracks.original, pos);
                let b = sample_at(&self.tracks.resynthesis, pos);
                if self.mix < target {
                    self.mix = (self.mix + self.fade_step).min(target);
                } else if self.mix > target {
                    self.mix = (self.mix - self.fade_step).max(target);
                }
                pos += self.step;
                a * (1.0 - self.mix) + b * self.mix
            } else {
                ended = true;
                0.0
            };
            frame.fill(v);
        }
        let end_raw = (pos.min(len) * FRAC) as u64;
        // A seek that happened while this buffer was mixed wins over our advance.
        let _ = self.transport.position.compare_exchange(
            start_raw,
            end_raw,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        if ended {
            self.transport.playing.store(false, Ordering::Release);
        }
    }

    fn pick_up_tracks(&mut self) {
        let generation = self.transport.generation.load(Ordering::Acquire);
        if generation == self.seen_generation {
            return;
        }
        if let Ok(mut slot) = self.transport.pending.try_lock() {
            if let Some(t) = slot.take() {
                self.tracks = t;
            }
            self.seen_generation = generation;
        }
    }
}

/// Linear interpolation; silence outside the signal.
fn sample_at(x: &[f32], pos: f64) -> f32 {
    let i = pos.floor() as usize;
    let frac = (pos - i as f64) as f32;
    let a = x.get(i).copied().unwrap_or(0.0);
    let b = x.get(i + 1).copied().unwrap_or(0.0);
    a + (b - a) * frac
}

/// Where the mixer's output goes: a sound card, or nothing (tests, machines without a device).
pub trait AudioSink: Send {
    /// Starts pulling from `transport`. What the device does (opened, or why not; underruns;
    /// loss) comes on the returned receiver, as it happens.
    fn start(self: Box<Self>, transport: Arc<Transport>) -> Receiver<SinkAnswer>;
}

/// No output at all; the transport still tracks play state, source and position requests.
pub struct NoSink(pub String);

impl AudioSink for NoSink {
    fn start(self: Box<Self>, _transport: Arc<Transport>) -> Receiver<SinkAnswer> {
        let (tx, rx) = mpsc::channel();
        let _ = tx.send(SinkAnswer::Unavailable(self.0));
        rx
    }
}

/// The system's default output device through cpal, opened on its own thread (cpal streams are
/// not `Send`); the thread keeps the stream alive until the [`Player`] is dropped.
#[cfg(feature = "playback")]
pub struct CpalSink;

#[cfg(feature = "playback")]
impl AudioSink for CpalSink {
    fn start(self: Box<Self>, transport: Arc<Transport>) -> Receiver<SinkAnswer> {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("player".into())
            .spawn(move || cpal_thread(transport, tx));
        if let Err(e) = spawned {
            let (tx, rx) = mpsc::channel();
            let _ = tx.send(SinkAnswer::Unavailable(format!("player thread: {e}")));
            return rx;
        }
        rx
    }
}

/// How long a stream may fail with a backend error and ask for no samples before it counts as
/// lost. ALSA's `pulse` plugin answers one I/O error while it recovers from an underrun (and
/// plays on); once its server is gone, it answers nothing else.
#[cfg(feature = "playback")]
const LOSS_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// What the stream's two callbacks tell the sound card's thread about the stream's health.
#[cfg(feature = "playback")]
#[derive(Default)]
struct StreamHealth {
    /// Data callbacks so far: a stream that still asks for samples is alive.
    fills: AtomicU64,
    /// Underruns so far. The sound card's thread reports the count on its next tick: a starved
    /// device can underrun every period, and the count, not each one, is what the user needs.
    underruns: AtomicU64,
    /// A backend error that may pass: when it came, the `fills` count then, its text.
    suspect: Mutex<Option<(std::time::Instant, u64, String)>>,
    /// The stream cannot go on (and this was said); the sound card's thread then closes it.
    lost: AtomicBool,
}

/// Turns cpal's stream errors into [`StreamHealth`] and [`SinkAnswer`]s. Runs on cpal's stream
/// thread, never in the data callback: it counts, takes an uncontended lock and sends (an
/// unbounded channel's send never blocks).
#[cfg(feature = "playback")]
struct StreamErrors {
    tx: Sender<SinkAnswer>,
    health: Arc<StreamHealth>,
}

#[cfg(feature = "playback")]
impl StreamErrors {
    fn on_error(&mut self, e: cpal::Error) {
        use cpal::ErrorKind;
        match e.kind() {
            ErrorKind::Xrun => {
                self.health.underruns.fetch_add(1, Ordering::AcqRel);
            }
            // The stream cannot go on.
            ErrorKind::DeviceNotAvailable
            | ErrorKind::HostUnavailable
            | ErrorKind::StreamInvalidated => report_lost(&self.health, &self.tx, e.to_string()),
            // Lost if no samples are asked for during LOSS_GRACE (the sound card's thread
            // judges): an I/O error repeated on every poll once a PulseAudio server is gone.
            ErrorKind::BackendError | ErrorKind::Other => {
                tracing::debug!("audio stream: {e}");
                if let Ok(mut s) = self.health.suspect.lock() {
                    if s.is_none() {
                        let fills = self.health.fills.load(Ordering::Acquire);
                        *s = Some((std::time::Instant::now(), fills, e.to_string()));
                    }
                }
            }
            _ => tracing::warn!("audio stream: {e}"),
        }
    }
}

/// Says once that the stream is lost.
#[cfg(feature = "playback")]
fn report_lost(health: &StreamHealth, tx: &Sender<SinkAnswer>, why: String) {
    if !health.lost.swap(true, Ordering::AcqRel) {
        tracing::warn!("audio stream lost: {why}");
        let _ = tx.send(SinkAnswer::Lost(why));
    }
}

#[cfg(feature = "playback")]
fn cpal_thread(transport: Arc<Transport>, tx: Sender<SinkAnswer>) {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let health = Arc::new(StreamHealth::default());
    let opened = (|| -> Result<(cpal::Stream, String), String> {
        let host = cpal::default_host();
        let device = host
            .default_output_device()
            .ok_or_else(|| "no audio output device".to_string())?;
        let supported = device
            .default_output_config()
            .map_err(|e| format!("no output device ({e})"))?;
        let mut config = supported.config();
        // Periods of 40 ms: ALSA's default through PulseAudio is about 10 ms, which a busy
        // machine misses (each miss a gap heard). An A/B switch or a seek waits for at most a
        // period, which nobody hears as late.
        if let cpal::SupportedBufferSize::Range { min, max } = supported.buffer_size() {
            let want = config.sample_rate / 25;
            config.buffer_size = cpal::BufferSize::Fixed(want.clamp(*min, (*max).max(*min)));
        }
        let channels = config.channels as usize;
        let rate = config.sample_rate;
        let mut mixer = Mixer::new(transport, rate);
        let mut errors = StreamErrors {
            tx: tx.clone(),
            health: health.clone(),
        };
        let alive = health.clone();
        let stream = device
            .build_output_stream::<f32, _, _>(
                config,
                move |out: &mut [f32], _| {
                    alive.fills.fetch_add(1, Ordering::Release);
                    mixer.fill(out, channels);
                },
                move |e| errors.on_error(e),
                None,
            )
            .map_err(|e| format!("no audio output: {e}"))?;
        stream.play().map_err(|e| format!("no audio output: {e}"))?;
        Ok((stream, format!("{rate} Hz, {channels} ch")))
    })();
    match opened {
        Ok((stream, desc)) => {
            if tx.send(SinkAnswer::Ready(desc)).is_ok() {
                park_until_closed(&tx, &health);
            }
            drop(stream);
        }
        Err(e) => {
            let _ = tx.send(SinkAnswer::Unavailable(e));
        }
    }
}

/// The pending backend error's text once the stream has asked for no samples during
/// [`LOSS_GRACE`] since it came; clears it when samples were asked for since.
#[cfg(feature = "playback")]
fn failed_for_good(health: &StreamHealth) -> Option<String> {
    let mut s = health.suspect.lock().ok()?;
    let (since, fills, why) = s.as_ref()?;
    if health.fills.load(Ordering::Acquire) != *fills {
        // Samples were asked for since: it passed.
        *s = None;
        return None;
    }
    (since.elapsed() >= LOSS_GRACE).then(|| why.clone())
}

/// Waits until the receiver side (the Player) is gone, or the stream is lost: a lost ALSA
/// stream's thread polls its dead device in a loop, so it is closed at once.
#[cfg(feature = "playback")]
fn park_until_closed(tx: &Sender<SinkAnswer>, health: &StreamHealth) {
    let mut reported = 0;
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let underruns = health.underruns.load(Ordering::Acquire);
        if underruns > reported {
            reported = underruns;
            let _ = tx.send(SinkAnswer::Underrun(underruns));
        }
        if let Some(why) = failed_for_good(health) {
            report_lost(health, tx, why);
        }
        if health.lost.load(Ordering::Acquire) {
            return;
        }
        // The heartbeat fails to send once the Player has dropped its receiver.
        if tx.send(SinkAnswer::Heartbeat).is_err() {
            return;
        }
    }
}

/// The device's state as the transport pane shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceState {
    Opening,
    Ready(String),
    Unavailable(String),
    /// The device worked, then stopped (unplugged, its sound server gone): playback stopped.
    Lost(String),
}

/// What a sink reports, on its own channel, as it happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SinkAnswer {
    /// The device is open: its description (rate, channels).
    Ready(String),
    /// There is no device, and why.
    Unavailable(String),
    /// The device ran out of samples (a gap was heard); the count since it opened. Playback
    /// goes on.
    Underrun(u64),
    /// The open device stopped working; the stream is over.
    Lost(String),
    /// Nothing happened: the sound card thread's periodic check that anyone still listens.
    Heartbeat,
}

/// The UI's handle: owns the transport and knows the device's state.
pub struct Player {
    pub transport: Arc<Transport>,
    device: DeviceState,
    underruns: u64,
}

impl Player {
    /// Starts `sink` pulling from a new transport and takes in what it has answered already.
    /// Later answers come on the returned receiver, for [`Player::answer`]: the workbench
    /// forwards them into its one event channel instead of polling. The sound card's thread
    /// closes its stream once that receiver is dropped.
    pub fn start(sink: Box<dyn AudioSink>) -> (Player, Receiver<SinkAnswer>) {
        let transport = Arc::new(Transport::default());
        let answers = sink.start(transport.clone());
        let mut p = Player {
            transport,
            device: DeviceState::Opening,
            underruns: 0,
        };
        while let Ok(a) = answers.try_recv() {
            p.answer(a);
        }
        (p, answers)
    }

    pub fn answer(&mut self, answer: SinkAnswer) {
        match answer {
            SinkAnswer::Heartbeat => {}
            SinkAnswer::Ready(desc) => self.device = DeviceState::Ready(desc),
            SinkAnswer::Unavailable(e) => self.device = DeviceState::Unavailable(e),
            SinkAnswer::Underrun(n) => self.underruns = self.underruns.max(n),
            SinkAnswer::Lost(e) => {
                // Nothing advances the playhead any more; showing it as playing would lie.
                self.transport.set_playing(false);
                self.device = DeviceState::Lost(e);
            }
        }
    }

    pub fn device(&self) -> &DeviceState {
        &self.device
    }

    pub fn has_device(&self) -> bool {
        matches!(self.device, DeviceState::Ready(_))
    }

    /// Underruns since the device opened, as last reported.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize, scale: f32) -> Vec<f32> {
        (0..n).map(|i| i as f32 * scale).collect()
    }

    fn setup(rate: u32) -> (Arc<Transport>, Mixer) {
        let t = Arc::new(Transport::default());
        t.set_tracks(Tracks {
            original: ramp(16_000, 1.0),
            resynthesis: ramp(16_000, -1.0),
        });
        let m = Mixer::new(t.clone(), rate);
        (t, m)
    }

    #[test]
    fn plays_at_device_rate_and_advances_position() {
        let (t, mut m) = setup(16_000);
        t.set_playing(true);
        let mut out = vec![0.0; 200];
        m.fill(&mut out, 2);
        assert_eq!(out[0], 0.0);
        assert_eq!(out[1], 0.0);
        assert_eq!(out[2], 1.0);
        assert_eq!(out[199], 99.0);
        assert!((t.position_samples() - 100.0).abs() < 1e-9);
        // 48 kHz output: three frames per model sample, interpolated.
        let (t, mut m) = setup(48_000);
        t.set_playing(true);
        let mut out = vec![0.0; 6];
        m.fill(&mut out, 1);
        assert!((out[1] - 1.0 / 3.0).abs() < 1e-5, "{out:?}");
        assert!((t.position_samples() - 2.0).abs() < 1e-4);
    }

    #[test]
    fn ab_switch_keeps_position_and_crossfades() {
        let (t, mut m) = setup(16_000);
        t.seek_seconds(0.5);
        t.set_playing(true);
        let mut out = vec![0.0; 10];
        m.fill(&mut out, 1);
        assert_eq!(out[0], 8000.0);
        assert_eq!(t.toggle_source(), Source::Resynthesis);
        let fade = (CROSSFADE_SECONDS * 16_000.0) as usize; // 80 frames
        let mut out = vec![0.0; fade + 10];
        m.fill(&mut out, 1);
        // Continues from sample 8010, starts near A and ends exactly on B.
        assert!(out[0] > 7000.0, "first frame after switch {}", out[0]);
        assert!(out[fade / 2].abs() < 500.0, "half way through the fade");
        assert_eq!(out[fade + 5], -(8010.0 + (fade + 5) as f32));
        // Monotone fade: no jump larger than the ramp's slope plus one fade step.
        for w in out.windows(2) {
            assert!((w[1] - w[0]).abs() <= 8100.0 * (1.0 / fade as f32) * 2.0 + 2.0);
        }
    }

    #[test]
    fn seek_is_clamped_and_wins_over_a_running_buffer() {
        let (t, mut m) = setup(16_000);
        t.seek_seconds(5.0);
        assert!((t.position_seconds() - 1.0).abs() < 1e-9);
        t.seek_seconds(-1.0);
        assert_eq!(t.position_samples(), 0.0);
        t.seek_seconds(0.25);
        t.set_playing(true);
        let mut out = vec![0.0; 4];
        m.fill(&mut out, 1);
        assert_eq!(out[0], 4000.0);
        assert!((t.position_samples() - 4004.0).abs() < 1e-9);
    }

    #[test]
    fn end_of_stream_stops_and_pads_with_silence() {
        let (t, mut m) = setup(16_000);
        t.seek_seconds(1.0 - 3.0 / 16_000.0);
        t.set_playing(true);
        let mut out = vec![9.0; 8];
        m.fill(&mut out, 1);
        assert_eq!(&out[..3], &[15_997.0, 15_998.0, 15_999.0 * 0.0 + 15_999.0]);
        assert!(out[3..].iter().all(|&v| v == 0.0));
        assert!(!t.is_playing());
        assert!((t.position_seconds() - 1.0).abs() < 1e-9);
        // Playing again starts from the top.
        t.set_playing(true);
        assert_eq!(t.position_samples(), 0.0);
    }

    #[test]
    fn paused_outputs_silence_and_new_tracks_keep_position() {
        let (t, mut m) = setup(16_000);
        t.seek_seconds(0.5);
        let mut out = vec![1.0; 4];
        m.fill(&mut out, 1);
        assert!(out.iter().all(|&v| v == 0.0));
        t.set_tracks(Tracks {
            original: vec![0.25; 16_000],
            resynthesis: Vec::new(),
        });
        t.set_playing(true);
        m.fill(&mut out, 1);
        assert_eq!(out, vec![0.25; 4]);
        assert!((t.position_samples() - 8004.0).abs() < 1e-9);
    }

    /// A sink that answers with a fixed list, as a sound card would over time.
    struct Scripted(Vec<SinkAnswer>);

    impl AudioSink for Scripted {
        fn start(self: Box<Self>, _transport: Arc<Transport>) -> Receiver<SinkAnswer> {
            let (tx, rx) = mpsc::channel();
            for a in self.0 {
                tx.send(a).unwrap();
            }
            rx
        }
    }

    #[test]
    fn underruns_are_counted_and_a_lost_device_stops_the_playhead() {
        let (mut p, answers) = Player::start(Box::new(Scripted(vec![
            SinkAnswer::Ready("48000 Hz, 2 ch".into()),
            SinkAnswer::Underrun(2),
            SinkAnswer::Heartbeat,
        ])));
        assert_eq!(p.device(), &DeviceState::Ready("48000 Hz, 2 ch".into()));
        assert_eq!(p.underruns(), 2);
        p.transport.set_tracks(Tracks {
            original: vec![0.5; 16_000],
            resynthesis: Vec::new(),
        });
        p.transport.set_playing(true);
        // A late, smaller count (reports cross on the channel) never lowers the total.
        p.answer(SinkAnswer::Underrun(1));
        assert_eq!(p.underruns(), 2);
        assert!(p.transport.is_playing());
        p.answer(SinkAnswer::Lost("Device disconnected".into()));
        assert_eq!(p.device(), &DeviceState::Lost("Device disconnected".into()));
        assert!(!p.has_device());
        assert!(!p.transport.is_playing());
        assert!(
            answers.try_recv().is_err(),
            "everything was taken in at start"
        );
    }

    #[cfg(feature = "playback")]
    #[test]
    fn stream_errors_become_underrun_counts_and_a_lost_device() {
        use cpal::{Error as CpalError, ErrorKind};
        let (tx, rx) = mpsc::channel();
        let health = Arc::new(StreamHealth::default());
        let mut errors = StreamErrors {
            tx: tx.clone(),
            health: health.clone(),
        };
        // Underruns are counted (the sound card's thread reports the count), nothing is lost.
        for _ in 0..3 {
            errors.on_error(CpalError::new(ErrorKind::Xrun));
        }
        assert_eq!(health.underruns.load(Ordering::Acquire), 3);
        assert!(rx.try_recv().is_err());
        assert!(!health.lost.load(Ordering::Acquire));
        // A backend error that passes: samples are asked for again.
        errors.on_error(CpalError::new(ErrorKind::BackendError));
        assert_eq!(failed_for_good(&health), None);
        health.fills.fetch_add(1, Ordering::Release);
        assert_eq!(failed_for_good(&health), None);
        assert!(health.suspect.lock().unwrap().is_none(), "cleared");
        // One that lasts: lost once the grace is over, and said once.
        errors.on_error(CpalError::new(ErrorKind::BackendError));
        let past = std::time::Instant::now()
            .checked_sub(LOSS_GRACE * 2)
            .unwrap();
        health.suspect.lock().unwrap().as_mut().unwrap().0 = past;
        let why = failed_for_good(&health).expect("lost");
        report_lost(&health, &tx, why.clone());
        report_lost(&health, &tx, why.clone());
        assert_eq!(rx.try_recv(), Ok(SinkAnswer::Lost(why)));
        assert!(rx.try_recv().is_err());
        // A device that is gone is lost at once.
        let health = Arc::new(StreamHealth::default());
        let mut errors = StreamErrors {
            tx,
            health: health.clone(),
        };
        errors.on_error(CpalError::new(ErrorKind::DeviceNotAvailable));
        assert!(matches!(rx.try_recv(), Ok(SinkAnswer::Lost(_))));
        assert!(health.lost.load(Ordering::Acquire));
    }

    #[test]
    fn player_without_device_says_so() {
        let (p, _answers) = Player::start(Box::new(NoSink("no audio output device".into())));
        assert_eq!(
            p.device(),
            &DeviceState::Unavailable("no audio output device".into())
        );
        p.transport.set_source(Source::Resynthesis);
        assert_eq!(p.transport.toggle_source(), Source::Original);
    }
}
