//! Writing notes as a Standard MIDI File.

use std::collections::BTreeMap;
use std::path::Path;

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use super::note::MidiNote;
use super::settings::MidiSettings;
use super::timing::{bpm_to_micros_per_beat, TempoMap};
use crate::atomic_file::{write_bytes_atomic, Overwrite};
use crate::error::{Error, Result};

/// How notes are spread over tracks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TrackLayout {
    /// Format 0: tempo and all notes in one track.
    #[default]
    Single,
    /// Format 1: a tempo track, then one track per distinct key (ascending), named from
    /// `names` (key -> name) or `note <key>` when absent.
    OnePerNote { names: BTreeMap<u8, String> },
}

/// File-level choices for [`midi_bytes`].
#[derive(Debug, Clone, PartialEq)]
pub struct MidiWriteOptions {
    /// Written as whole microseconds per beat (see [`bpm_to_micros_per_beat`]); ticks are
    /// computed with that rounded tempo so that reading the file gives the times back.
    pub tempo_bpm: f64,
    /// 1..=32767.
    pub ticks_per_beat: u16,
    pub layout: TrackLayout,
}

impl Default for MidiWriteOptions {
    fn default() -> Self {
        MidiWriteOptions {
            tempo_bpm: 120.0,
            ticks_per_beat: 480,
            layout: TrackLayout::Single,
        }
    }
}

impl MidiWriteOptions {
    /// The options the `[midi]` settings ask for (track names are the component names).
    pub fn from_settings(settings: &MidiSettings) -> Self {
        let layout = if settings.one_track_per_component {
            let mut names = BTreeMap::new();
            for (name, &note) in &settings.notes {
                names.entry(note).or_insert_with(|| name.clone());
            }
            TrackLayout::OnePerNote { names }
        } else {
            TrackLayout::Single
        };
        MidiWriteOptions {
            tempo_bpm: settings.tempo_bpm,
            ticks_per_beat: settings.ticks_per_beat,
            layout,
        }
    }

    fn micros_per_beat(&self) -> u32 {
        bpm_to_micros_per_beat(self.tempo_bpm)
    }

    fn tempo_map(&self) -> TempoMap {
        TempoMap::constant(self.micros_per_beat(), self.ticks_per_beat)
    }
}

/// The notes as they will read back from a file written with `opts`: onsets and note-off
/// times snapped to the tick grid. Use it to make audio, annotations and MIDI agree exactly.
pub fn quantize_to_ticks(notes: &[MidiNote], opts: &MidiWriteOptions) -> Vec<MidiNote> {
    let map = opts.tempo_map();
    notes
        .iter()
        .map(|n| {
            let on = map.tick_at(n.time);
            let off = note_off_tick(&map, n, on);
            MidiNote {
                time: map.seconds_at(on),
                duration: map.seconds_at(off) - map.seconds_at(on),
                ..*n
            }
        })
        .collect()
}

/// Every note lasts at least one tick, so that its note-off never precedes its note-on.
fn note_off_tick(map: &TempoMap, note: &MidiNote, on: u64) -> u64 {
    let end = if note.duration.is_finite() && note.duration > 0.0 {
        map.tick_at(note.time + note.duration)
    } else {
        on
    };
    end.max(on + 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Edge {
    // Declared first so that at one tick every note-off precedes the note-ons.
    Off,
    On,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    tick: u64,
    edge: Edge,
    channel: u8,
    key: u8,
    velocity: u8,
}

fn check_note(n: &MidiNote) -> Result<()> {
    if !(n.time.is_finite() && n.time >= 0.0) {
        return Err(Error::Invalid(format!(
            "MIDI note at time {} s: time must be finite and not negative",
            n.time
        )));
    }
    if n.note > 127 {
        return Err(Error::Invalid(format!(
            "MIDI note {} at {:.3} s: key must be in 0..=127",
            n.note, n.time
        )));
    }
    if n.channel > 15 {
        return Err(Error::Invalid(format!(
            "MIDI note at {:.3} s: channel index {} must be in 0..=15",
            n.time, n.channel
        )));
    }
    Ok(())
}

/// Note-on/off events at absolute ticks, sorted. A note whose next onset (same key and
/// channel) comes before its own end is cut at that onset, so no note-off silences a later hit.
fn events_for(notes: &[MidiNote], map: &TempoMap) -> Result<Vec<Event>> {
    let mut ons: Vec<(u64, &MidiNote)> = Vec::with_capacity(notes.len());
    for n in notes {
        check_note(n)?;
        ons.push((map.tick_at(n.time), n));
    }
    ons.sort_by_key(|&(tick, n)| (n.channel, n.note, tick));
    let mut events = Vec::with_capacity(ons.len() * 2);
    for (i, &(on, n)) in ons.iter().enumerate() {
        let mut off = note_off_tick(map, n, on);
        if let Some(&(next_on, next)) = ons.get(i + 1) {
            if next.channel == n.channel && next.note == n.note && next_on > on {
                off = off.min(next_on);
            }
        }
        let velocity = n.velocity.clamp(1, 127);
        events.push(Event {
            tick: on,
            edge: Edge::On,
            channel: n.channel,
            key: n.note,
            velocity,
        });
        events.push(Event {
            tick: off,
            edge: Edge::Off,
            channel: n.channel,
            key: n.note,
            velocity: 0,
        });
    }
    events.sort_by_key(|e| (e.tick, e.edge, e.channel, e.key));
    Ok(events)
}

fn delta(from: u64, to: u64) -> Result<u28> {
    let d = to - from;
    u32::try_from(d)
        .ok()
        .and_then(u28::try_from)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "MIDI: a gap of {d} ticks does not fit a delta time"
            ))
        })
}

fn track_from<'a>(head: Vec<TrackEventKind<'a>>, events: &[Event]) -> Result<Vec<TrackEvent<'a>>> {
    let mut track: Vec<TrackEvent<'a>> = head
        .into_iter()
        .map(|kind| TrackEvent {
            delta: u28::new(0),
            kind,
        })
        .collect();
    let mut last = 0u64;
    for e in events {
        let message = match e.edge {
            Edge::On => MidiMessage::NoteOn {
                key: u7::new(e.key),
                vel: u7::new(e.velocity),
            },
            Edge::Off => MidiMessage::NoteOff {
                key: u7::new(e.key),
                vel: u7::new(0),
            },
        };
        track.push(TrackEvent {
            delta: delta(last, e.tick)?,
            kind: TrackEventKind::Midi {
                channel: u4::new(e.channel),
                message,
            },
        });
        last = e.tick;
    }
    track.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    Ok(track)
}

/// The bytes of a Standard MIDI File holding `notes` (any order). Velocities are clamped to
/// 1..=127; a key above 127, a channel above 15 or a negative/non-finite time is an error.
pub fn midi_bytes(notes: &[MidiNote], opts: &MidiWriteOptions) -> Result<Vec<u8>> {
    if !(1..=0x7FFF).contains(&opts.ticks_per_beat) {
        return Err(Error::Invalid(format!(
            "MIDI: ticks per beat {} must be in 1..=32767",
            opts.ticks_per_beat
        )));
    }
    let map = opts.tempo_map();
    let events = events_for(notes, &map)?;
    let conductor = vec![
        TrackEventKind::Meta(MetaMessage::Tempo(u24::new(opts.micros_per_beat()))),
        TrackEventKind::Meta(MetaMessage::TimeSignature(4, 2, 24, 8)),
    ];
    let timing = Timing::Metrical(u15::new(opts.ticks_per_beat));
    // Track names must outlive the Smf that borrows them.
    let names: Vec<(u8, Vec<u8>)>;
    let smf = match &opts.layout {
        TrackLayout::Single => {
            let mut smf = Smf::new(Header::new(Format::SingleTrack, timing));
            smf.tracks.push(track_from(conductor, &events)?);
            smf
        }
        TrackLayout::OnePerNote { names: given } => {
            let mut keys: Vec<u8> = events.iter().map(|e| e.key).collect();
            keys.sort_unstable();
            keys.dedup();
            names = keys
                .iter()
                .map(|&k| {
                    let name = given
                        .get(&k)
                        .cloned()
                        .unwrap_or_else(|| format!("note {k}"));
                    (k, name.into_bytes())
                })
                .collect();
            let mut smf = Smf::new(Header::new(Format::Parallel, timing));
            smf.tracks.push(track_from(conductor, &[])?);
            for (key, name) in &names {
                let own: Vec<Event> = events.iter().filter(|e| e.key == *key).copied().collect();
                let head = vec![TrackEventKind::Meta(MetaMessage::TrackName(name))];
                smf.tracks.push(track_from(head, &own)?);
            }
            smf
        }
    };
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes)
        .map_err(|e| Error::Invalid(format!("MIDI: cannot encode: {e}")))?;
    Ok(bytes)
}

/// Writes `notes` to `path` atomically (see [`midi_bytes`]); errors name the file.
pub fn write_midi(
    path: &Path,
    notes: &[MidiNote],
    opts: &MidiWriteOptions,
    overwrite: Overwrite,
) -> Result<()> {
    let bytes = midi_bytes(notes, opts).map_err(|e| match e {
        Error::Invalid(message) => Error::midi(path, message),
        other => other,
    })?;
    write_bytes_atomic(path, &bytes, overwrite)
}
