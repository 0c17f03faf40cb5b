//! Reading note-ons from a Standard MIDI File.
//!
//! Supported: formats 0 and 1 (one tempo map shared by all tracks, built from the Set Tempo
//! events of every track), format 2 (each track is its own song starting at 0 s with its own
//! tempo map), metrical and SMPTE timing, running status, note-on with velocity 0 as note-off.
//! Limits, all reported as `Error::Midi` naming the file: bytes midly cannot parse, a zero
//! ticks-per-beat or ticks-per-frame, a Set Tempo of 0 microseconds (time would stand still).
//! Huge delta times are not clamped: absolute ticks are summed in `u64` (saturating) and
//! converted to seconds in `f64`, so even the largest legal deltas give finite, exact times.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use midly::{Format, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::note::MidiNote;
use super::timing::TempoMap;
use crate::error::{Error, Result};

/// Reads every note-on (velocity > 0, any channel) of a MIDI file, sorted by time.
pub fn read_midi(path: &Path) -> Result<Vec<MidiNote>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_midi(&bytes, path)
}

#[derive(Debug, Clone, Copy)]
struct KeyEvent {
    tick: u64,
    on: bool,
    channel: u8,
    key: u8,
    velocity: u8,
}

/// Absolute-tick note events and tempo changes `(tick, microseconds per beat)` of one track,
/// in file order.
struct ScannedTrack {
    keys: Vec<KeyEvent>,
    tempi: Vec<(u64, u32)>,
}

fn scan_track(track: &[TrackEvent], path: &Path) -> Result<ScannedTrack> {
    let mut tick = 0u64;
    let mut keys = Vec::new();
    let mut tempi = Vec::new();
    for event in track {
        tick = tick.saturating_add(u64::from(event.delta.as_int()));
        match event.kind {
            TrackEventKind::Midi { channel, message } => {
                let (on, key, vel) = match message {
                    MidiMessage::NoteOn { key, vel } => (vel.as_int() > 0, key, vel),
                    MidiMessage::NoteOff { key, vel } => (false, key, vel),
                    _ => continue,
                };
                keys.push(KeyEvent {
                    tick,
                    on,
                    channel: channel.as_int(),
                    key: key.as_int(),
                    velocity: vel.as_int(),
                });
            }
            TrackEventKind::Meta(MetaMessage::Tempo(micros)) => {
                if micros.as_int() == 0 {
                    return Err(Error::midi(
                        path,
                        format!("tempo of 0 microseconds per beat at tick {tick}"),
                    ));
                }
                tempi.push((tick, micros.as_int()));
            }
            _ => {}
        }
    }
    Ok(ScannedTrack { keys, tempi })
}

/// Pairs note-ons with note-offs (first in, first out per channel and key) and converts ticks
/// to seconds. `events` must be in playing order.
fn notes_from(events: &[KeyEvent], map: &TempoMap) -> Vec<MidiNote> {
    let mut notes: Vec<MidiNote> = Vec::new();
    let mut open: HashMap<(u8, u8), VecDeque<usize>> = HashMap::new();
    for e in events {
        let pending = open.entry((e.channel, e.key)).or_default();
        if e.on {
            pending.push_back(notes.len());
            notes.push(MidiNote {
                time: map.seconds_at(e.tick),
                note: e.key,
                velocity: e.velocity,
                duration: 0.0,
                channel: e.channel,
            });
        } else if let Some(i) = pending.pop_front() {
            notes[i].duration = (map.seconds_at(e.tick) - notes[i].time).max(0.0);
        }
    }
    notes
}

/// Parses MIDI bytes like [`read_midi`]; `path_for_errors` only names the source in errors.
pub fn parse_midi(bytes: &[u8], path_for_errors: &Path) -> Result<Vec<MidiNote>> {
    let path = path_for_errors;
    // midly 0.5.3 negates the SMPTE frame-rate byte as an i8, which overflows (a panic in debug
    // builds) for 0x80: refuse that header before midly sees it.
    if bytes.len() >= 14 && &bytes[..4] == b"MThd" && bytes[12] == 0x80 {
        return Err(Error::midi(
            path,
            "not a valid MIDI file (invalid SMPTE frame rate)",
        ));
    }
    // Backstop: a parser panic on hostile bytes is a malformed file, not a crash.
    let parsed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Smf::parse(bytes)))
        .map_err(|_| Error::midi(path, "not a valid MIDI file (the parser gave up)"))?;
    let smf = parsed.map_err(|e| Error::midi(path, format!("not a valid MIDI file ({e})")))?;
    let map_for = |changes: &[(u64, u32)]| -> Result<TempoMap> {
        match smf.header.timing {
            Timing::Metrical(ppq) => {
                if ppq.as_int() == 0 {
                    return Err(Error::midi(path, "header says 0 ticks per beat"));
                }
                Ok(TempoMap::metrical(ppq.as_int(), changes))
            }
            Timing::Timecode(fps, ticks_per_frame) => {
                if ticks_per_frame == 0 {
                    return Err(Error::midi(path, "header says 0 ticks per SMPTE frame"));
                }
                Ok(TempoMap::timecode(f64::from(fps.as_f32()), ticks_per_frame))
            }
        }
    };
    let mut scanned = Vec::with_capacity(smf.tracks.len());
    for track in &smf.tracks {
        scanned.push(scan_track(track, path)?);
    }
    let mut notes = Vec::new();
    if smf.header.format == Format::Sequential {
        for track in &scanned {
            notes.extend(notes_from(&track.keys, &map_for(&track.tempi)?));
        }
    } else {
        let tempi: Vec<(u64, u32)> = scanned
            .iter()
            .flat_map(|t| t.tempi.iter().copied())
            .collect();
        let map = map_for(&tempi)?;
        let mut keys: Vec<KeyEvent> = scanned
            .iter()
            .flat_map(|t| t.keys.iter().copied())
            .collect();
        // Stable: events at one tick keep their order within (and across) tracks.
        keys.sort_by_key(|e| e.tick);
        notes = notes_from(&keys, &map);
    }
    notes.sort_by(|a, b| a.time.total_cmp(&b.time).then(a.note.cmp(&b.note)));
    Ok(notes)
}
