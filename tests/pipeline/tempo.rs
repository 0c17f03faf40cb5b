//! Tempo and bars from real transcriptions: grooves drawn by the groove generator, rendered
//! through procedural kits the model never trained on (validation seeds), transcribed with the
//! bundled model, and the estimate scored against the generator's tempo, beats and bars.

use std::path::Path;

use candle_core::Device;
use drummernet::config::Config;
use drummernet::eval::beats::{f_measure, tempo_verdict, TempoVerdict, BEAT_WINDOW};
use drummernet::groove::{make_groove, GrooveSettings, Style};
use drummernet::kit::procedural::procedural_kit;
use drummernet::model::drummernet::DrummerNet;
use drummernet::transcribe::export::tempo_of;
use drummernet::transcribe::{transcribe_source, NetRunner, SliceSource};

#[test]
fn transcribed_grooves_give_their_tempo_beats_and_bars() {
    let path = drummernet::assets::locate(drummernet::assets::BUNDLED_MODEL);
    let model = DrummerNet::load(&path, &Device::Cpu).expect("the bundled model");
    let cfg = Config::defaults().unwrap();
    let length = cfg.kit.length_samples();
    let cases = [
        (101u64, Style::Rock, 84.0),
        (102, Style::Funk, 108.0),
        (103, Style::Disco, 126.0),
        (104, Style::Shuffle, 150.0),
    ];
    for (seed, style, bpm) in cases {
        let settings = GrooveSettings {
            styles: vec![style],
            bpm_min: bpm,
            bpm_max: bpm,
            augment: drummernet::groove::AugmentSettings {
                enabled: false,
                ..Default::default()
            },
            ..cfg.groove.clone()
        };
        let kits = [procedural_kit(seed, length)];
        let take = make_groove(seed, 12.0, &kits, &settings).unwrap();
        let runner = NetRunner::new(&model.net, Device::Cpu);
        let t = transcribe_source(
            &runner,
            &model.config.components,
            Path::new("groove.wav"),
            || Ok(SliceSource::whole(&take.audio)),
            &cfg.inference,
            &cfg.midi,
            &|_| {},
        )
        .unwrap();
        let a = tempo_of(&t, &cfg.midi);
        let p = &take.performance;
        assert_eq!(
            tempo_verdict(a.bpm, bpm),
            TempoVerdict::Correct,
            "{style} at {bpm}: {:.2} ({:?})",
            a.bpm,
            a.candidates
        );
        let beat_f = f_measure(&p.beat_times(), &a.grid.beats, BEAT_WINDOW);
        let down_f = f_measure(&p.downbeat_times(), &a.grid.downbeats(), BEAT_WINDOW);
        println!(
            "{style} {bpm}: {:.2} BPM, beat F {beat_f:.3}, downbeat F {down_f:.3}",
            a.bpm
        );
        assert!(beat_f >= 0.9, "{style} at {bpm}: beat F {beat_f:.3}");
        assert!(down_f >= 0.75, "{style} at {bpm}: downbeat F {down_f:.3}");
    }
}
