//! Tempo, beat and downbeat accuracy on generated grooves (issue 21's targets):
//!
//! `cargo run --example tempo_eval -- [--count 40] [--seconds 30] [--seed 0] [--kits 100-119]
//! [--from model|truth] [--model FILE] [--verbose 1] [--set section.key=value]... [--write DIR]`
//!
//! Each groove is drawn by the project's groove generator (the `[groove]` defaults: every style,
//! 60-200 BPM, no augmentation) and rendered through a procedural kit (seeds below 1000 are
//! validation-only). `--from model` transcribes the audio with the bundled model (or `--model`)
//! and estimates from the events, as `drummernet transcribe` does; `--from truth` estimates
//! from the generator's own notes (the estimator alone). Prints one line per groove, then the
//! share of tempi within 4 % (half, double and triple answers counted apart), the mean beat
//! F-measure and the mean downbeat F-measure (mir_eval's 70 ms window, no trimming).
//!
//! Grooves that change tempo (`--set groove.tempo_change_probability=1`) are judged by their
//! tempo map: the verdict of the median local tempo ratio, and correct only when the local
//! tempo is within 4 % over at least 90 % of the true beats (the `map` column: that share);
//! the summary counts how many of them the estimator reported as changing (a tempo map
//! written) and how many steady grooves it kept steady.
//!
//! `--write DIR` also writes each groove's audio (`item_NNN.wav`, 16-bit mono at the model's
//! sample rate) and `item_NNN.json` (style, true tempo, beats and downbeats, and this
//! estimator's tempo and beats), so that other trackers can be scored on the same audio
//! (`scripts/librosa_tempo_compare.py`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Device;

use drummernet::atomic_file::Overwrite;
use drummernet::audio::{write_wav, WavFormat, SAMPLE_RATE};
use drummernet::config::Config;
use drummernet::eval::beats::{
    f_measure, tempo_map_verdict, tempo_verdict, TempoVerdict, BEAT_WINDOW,
};
use drummernet::groove::{item_seed, make_groove};
use drummernet::kit::procedural::procedural_kit;
use drummernet::model::drummernet::DrummerNet;
use drummernet::tempo::{analyse, Onset};
use drummernet::transcribe::{transcribe_source, NetRunner, SliceSource};

fn main() -> Result<()> {
    // `RUST_LOG=drummernet::tempo=debug` shows every candidate's scores.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let mut count = 40usize;
    let mut seconds = 30.0f64;
    let mut seed = 0u64;
    let mut kits = (100u64, 119u64);
    let mut from_model = true;
    let mut model_file: Option<PathBuf> = None;
    let mut verbose = false;
    let mut overrides: Vec<String> = Vec::new();
    let mut write_dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().with_context(|| format!("{a} needs a value"))?;
        match a.as_str() {
            "--count" => count = v.parse()?,
            "--seconds" => seconds = v.parse()?,
            "--seed" => seed = v.parse()?,
            "--kits" => {
                let (a, b) = v.split_once('-').context("--kits A-B")?;
                kits = (a.parse()?, b.parse()?);
            }
            "--from" => {
                from_model = match v.as_str() {
                    "model" => true,
                    "truth" => false,
                    _ => bail!("--from model|truth"),
                }
            }
            "--model" => model_file = Some(PathBuf::from(v)),
            "--verbose" => verbose = v == "1",
            "--set" => overrides.push(v),
            "--write" => write_dir = Some(PathBuf::from(v)),
            _ => bail!("unknown argument {a}"),
        }
    }
    let cfg = Config::load(None, &overrides)?;
    let mut settings = cfg.groove.clone();
    settings.augment.enabled = false;
    let length = cfg.kit.length_samples();
    let kit_set: Vec<_> = (kits.0..=kits.1)
        .map(|s| procedural_kit(s, length))
        .collect();
    let model = if from_model {
        let path = model_file
            .unwrap_or_else(|| drummernet::assets::locate(drummernet::assets::BUNDLED_MODEL));
        Some(DrummerNet::load(&path, &Device::Cpu)?)
    } else {
        None
    };
    if let Some(dir) = &write_dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut analyse_seconds = 0.0;
    let (mut correct, mut double, mut half, mut triple, mut wrong) = (0, 0, 0, 0, 0);
    let (mut beat_f, mut down_f) = (0.0, 0.0);
    // Grooves that change tempo, and those the estimator wrote a map for; steady ones kept so.
    let (mut changing, mut changing_seen, mut steady, mut steady_kept) = (0, 0, 0, 0);
    println!("item style        true_bpm  est_bpm verdict    map  beat_F  down_F  events");
    for i in 0..count {
        let take = make_groove(item_seed(seed, i), seconds, &kit_set, &settings)?;
        let p = &take.performance;
        let onsets: Vec<Onset> = match &model {
            None => p.notes.iter().filter_map(Onset::of_note).collect(),
            Some(m) => {
                let runner = NetRunner::new(&m.net, Device::Cpu);
                let t = transcribe_source(
                    &runner,
                    &m.config.components,
                    Path::new("groove.wav"),
                    || Ok(SliceSource::whole(&take.audio)),
                    &cfg.inference,
                    &cfg.midi,
                    &|_| {},
                )?;
                t.events.iter().map(Onset::of_event).collect()
            }
        };
        let started = std::time::Instant::now();
        let a = analyse(
            &onsets,
            seconds,
            &cfg.midi.tempo,
            None,
            cfg.midi.fallback_bpm,
        );
        analyse_seconds += started.elapsed().as_secs_f64();
        let (map_verdict, map_share) = tempo_map_verdict(&p.beat_times(), &a.grid.beats);
        let verdict = if p.changes_tempo() {
            changing += 1;
            changing_seen += usize::from(!a.steady);
            match map_verdict {
                TempoVerdict::Correct if map_share < 0.9 => TempoVerdict::Wrong,
                v => v,
            }
        } else {
            steady += 1;
            steady_kept += usize::from(a.steady);
            tempo_verdict(a.bpm, p.bpm)
        };
        match verdict {
            TempoVerdict::Correct => correct += 1,
            TempoVerdict::Double => double += 1,
            TempoVerdict::Half => half += 1,
            TempoVerdict::Triple => triple += 1,
            TempoVerdict::Wrong => wrong += 1,
        }
        let bf = f_measure(&p.beat_times(), &a.grid.beats, BEAT_WINDOW);
        let df = f_measure(&p.downbeat_times(), &a.grid.downbeats(), BEAT_WINDOW);
        beat_f += bf;
        down_f += df;
        println!(
            "{i:4} {:<12} {:8.2} {:8.2} {:<8} {map_share:5.2} {bf:6.3}  {df:6.3}  {}{}",
            p.style.to_string(),
            p.bpm,
            a.bpm,
            format!("{verdict:?}").to_lowercase(),
            onsets.len(),
            if p.changes_tempo() {
                let last = p.bar_bpm(usize::MAX);
                format!("  tempo change -> {last:.2}")
            } else {
                String::new()
            }
        );
        if let Some(dir) = &write_dir {
            let stem = dir.join(format!("item_{i:03}"));
            write_wav(
                &stem.with_extension("wav"),
                &take.audio,
                SAMPLE_RATE,
                WavFormat::Pcm16,
                Overwrite::Allow,
            )?;
            let json = serde_json::json!({
                "style": p.style.to_string(),
                "bpm": p.bpm,
                "beats": p.beat_times(),
                "downbeats": p.downbeat_times(),
                "estimated_bpm": a.bpm,
                "estimated_beats": a.grid.beats,
                "estimated_downbeats": a.grid.downbeats(),
            });
            std::fs::write(stem.with_extension("json"), json.to_string())?;
        }
        if verbose {
            let c: Vec<String> = a
                .candidates
                .iter()
                .map(|(b, s)| format!("{b:.1}:{s:.2}"))
                .collect();
            println!("     steady {} candidates {}", a.steady, c.join(" "));
        }
    }
    let n = count.max(1) as f64;
    println!(
        "tempo within 4 %: {correct}/{count} ({:.1} %); double {double}, half {half}, \
         triple {triple}, other {wrong}",
        100.0 * correct as f64 / n
    );
    println!(
        "mean beat F-measure {:.3}, mean downbeat F-measure {:.3} ({} grooves of {seconds} s, \
         set seed {seed}, kits procedural:{}-{}, from {})",
        beat_f / n,
        down_f / n,
        count,
        kits.0,
        kits.1,
        if from_model {
            "the model's events"
        } else {
            "the true notes"
        }
    );
    if changing > 0 {
        println!(
            "tempo changes: {changing} grooves, a tempo map written for {changing_seen}; \
             steady grooves kept steady: {steady_kept}/{steady}"
        );
    }
    println!(
        "tempo estimation took {:.1} ms per groove on average",
        1000.0 * analyse_seconds / n
    );
    Ok(())
}
