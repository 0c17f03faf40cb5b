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
use crate::tempo::BeatGrid;

/// Largest tempo a Set Tempo event can hold (24 bits).
const MAX_MICROS_PER_BEAT: f64 = 16_777_215.0;

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
    /// computed with that rounded tempo so that reading the file gives the times back. Unused
    /// when `grid` is given.
    pub tempo_bpm: f64,
    /// 1..=32767.
    pub ticks_per_beat: u16,
    pub layout: TrackLayout,
    /// Beats and bars to write as the tempo map and time signatures: every grid beat lands on
    /// a beat line and the first downbeat on a bar line (a pickup bar before it when needed);
    /// notes keep their times in seconds. `None`: one tempo, 4/4 from 0 s.
    pub grid: Option<BeatGrid>,
    /// Track name of the single track (format 0) or of the tempo track (format 1).
    pub track_name: Option<String>,
    /// Instrument name written into every track with notes.
    pub instrument_name: Option<String>,
    /// A text event at the start of the first track (what was transcribed).
    pub text: Option<String>,
}

impl Default for MidiWriteOptions {
    fn default() -> Self {
        MidiWriteOptions {
            tempo_bpm: 120.0,
            ticks_per_beat: 480,
            layout: TrackLayout::Single,
            grid: None,
            track_name: None,
            instrument_name: None,
            text: None,
        }
    }
}

/// The conductor's content: the tempo map notes are placed with, and its meta events at
/// absolute ticks.
struct Conductor {
    map: TempoMap,
    metas: Vec<(u64, MetaMessage<'static>)>,
}

/// The MIDI time signature event for `beats`/4.
fn time_signature(beats: u32) -> MetaMessage<'static> {
    MetaMessage::TimeSignature(beats.clamp(1, 255) as u8, 2, 24, 8)
}

fn conductor(opts: &MidiWriteOptions) -> Conductor {
    let ppq = u64::from(opts.ticks_per_beat.max(1));
    let Some(grid) = &opts.grid else {
        let micros = opts.micros_per_beat();
        return Conductor {
            map: TempoMap::constant(micros, opts.ticks_per_beat),
            metas: vec![
                (0, MetaMessage::Tempo(u24::new(micros))),
                (0, time_signature(4)),
            ],
        };
    };
    let (beats, first) = grid.anchored_at_zero();
    let per = grid.beats_per_bar.max(1);
    let pickup = (first as u64) % u64::from(per);
    let mut metas = Vec::new();
    if pickup > 0 {
        metas.push((0, time_signature(pickup as u32)));
        metas.push((pickup * ppq, time_signature(per)));
    } else {
        metas.push((0, time_signature(per)));
    }
    let mut changes: Vec<(u64, u32)> = Vec::new();
    for (k, w) in beats.windows(2).enumerate() {
        let micros = ((w[1] - w[0]) * 1e6)
            .round()
            .clamp(1.0, MAX_MICROS_PER_BEAT) as u32;
        if changes.last().is_none_or(|&(_, m)| m != micros) {
            changes.push((k as u64 * ppq, micros));
        }
    }
    for &(tick, micros) in &changes {
        metas.push((tick, MetaMessage::Tempo(u24::new(micros))));
    }
    metas.sort_by_key(|&(tick, _)| tick);
    Conductor {
        map: TempoMap::metrical(opts.ticks_per_beat, &changes),
        metas,
    }
}

impl MidiWriteOptions {
    /// The options the `[midi]` settings ask for (track names are the component names).
    pub fn from_settings(settings: &MidiSettings) -> Self {
        let layout = if settings.one_track_per_component {
            // Named after the components, through the selected drum map.
            let mut names = BTreeMap::new();
            let in_map = settings.maps.get(&settings.drum_map).map(|m| &m.notes);
            let components: std::collections::BTreeSet<&String> = settings
                .notes
                .keys()
                .chain(in_map.into_iter().flat_map(|m| m.keys()))
                .collect();
            for name in components {
                if let Some(note) = settings.note_for(name) {
                    names.entry(note).or_insert_with(|| name.clone());
                }
            }
            TrackLayout::OnePerNote { names }
        } else {
            TrackLayout::Single
        };
        MidiWriteOptions {
            tempo_bpm: settings.fixed_bpm().unwrap_or(settings.fallback_bpm),
            ticks_per_beat: settings.ticks_per_beat,
            layout,
            grid: None,
            track_name: Some("Drums".to_string()),
            instrument_name: Some(settings.instrument_name()),
            text: None,
        }
    }

    fn micros_per_beat(&self) -> u32 {
        bpm_to_micros_per_beat(self.tempo_bpm)
    }

    /// The tempo map notes are placed with (the grid's when there is one).
    pub fn tempo_map(&self) -> TempoMap {
        conductor(self).map
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

/// The name events a track starts with.
fn named<'a>(name: Option<&'a [u8]>, instrument: Option<&'a [u8]>) -> Vec<TrackEventKind<'a>> {
    let mut head = Vec::new();
    if let Some(n) = name {
        head.push(TrackEventKind::Meta(MetaMessage::TrackName(n)));
    }
    if let Some(i) = instrument {
        head.push(TrackEventKind::Meta(MetaMessage::InstrumentName(i)));
    }
    head
}

/// A track: `head` at tick 0, then the timed `metas` and the note `events` merged in tick
/// order (metas first at equal ticks: a tempo change applies to the notes at its tick).
fn track_from<'a>(
    head: Vec<TrackEventKind<'a>>,
    metas: &[(u64, MetaMessage<'a>)],
    events: &[Event],
) -> Result<Vec<TrackEvent<'a>>> {
    let mut track: Vec<TrackEvent<'a>> = head
        .into_iter()
        .map(|kind| TrackEvent {
            delta: u28::new(0),
            kind,
        })
        .collect();
    let mut last = 0u64;
    let mut metas = metas.iter().peekable();
    for e in events {
        while let Some(&&(tick, meta)) = metas.peek().filter(|m| m.0 <= e.tick) {
            track.push(TrackEvent {
                delta: delta(last, tick)?,
                kind: TrackEventKind::Meta(meta),
            });
            last = tick;
            metas.next();
        }
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
    for &(tick, meta) in metas {
        track.push(TrackEvent {
            delta: delta(last, tick)?,
            kind: TrackEventKind::Meta(meta),
        });
        last = tick;
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
    let Conductor { map, metas } = conductor(opts);
    let events = events_for(notes, &map)?;
    let timing = Timing::Metrical(u15::new(opts.ticks_per_beat));
    let track_name = opts.track_name.as_ref().map(|n| n.as_bytes());
    let text = opts.text.as_ref().map(|t| t.as_bytes());
    let instrument = opts.instrument_name.as_ref().map(|n| n.as_bytes());
    // Track names must outlive the Smf that borrows them.
    let names: Vec<(u8, Vec<u8>)>;
    let smf = match &opts.layout {
        TrackLayout::Single => {
            let mut smf = Smf::new(Header::new(Format::SingleTrack, timing));
            let mut head = named(track_name, instrument);
            head.extend(text.map(|t| TrackEventKind::Meta(MetaMessage::Text(t))));
            smf.tracks.push(track_from(head, &metas, &events)?);
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
            let mut head = named(track_name, None);
            head.extend(text.map(|t| TrackEventKind::Meta(MetaMessage::Text(t))));
            smf.tracks.push(track_from(head, &metas, &[])?);
            for (key, name) in &names {
                let own: Vec<Event> = events.iter().filter(|e| e.key == *key).copied().collect();
                smf.tracks.push(track_from(
                    named(Some(name.as_slice()), instrument),
                    &[],
                    &own,
                )?);
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
