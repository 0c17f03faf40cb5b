//! Rendering MIDI notes through a kit: exact, sample-accurate synthetic audio.

use super::mics::MicPlacement;
use crate::kit::components::{component_by_name, component_for_gm_note, DrumClass, COMPONENTS};
use crate::kit::Kit;
use crate::midi::MidiNote;

/// Amplitude of a hit at MIDI velocity `v`: `(v / 127)^1.5`.
///
/// The kit waveforms are recorded at one velocity; this curve (between linear and the
/// quadratic curve of many samplers) gives ghost notes (v ~ 30) about -19 dB and keeps the
/// ordering of velocities, which is all a transcriber can be asked to recover.
pub fn velocity_gain(velocity: u8) -> f32 {
    (f32::from(velocity.min(127)) / 127.0).powf(1.5)
}

/// Index into `kit.components` that sounds for a General MIDI note: the component the note
/// names (`component_for_gm_note`), or when the kit lacks it the first component of the
/// same class in model order (e.g. ride bell -> ride, low tom -> high tom if it is all there
/// is). `None` when the note is no drum or the kit has nothing of its class.
pub fn kit_index_for_note(kit: &Kit, note: u8) -> Option<usize> {
    let wanted = component_for_gm_note(note)?;
    let position = |name: &str| kit.components.iter().position(|c| c.name == name);
    position(wanted.name).or_else(|| {
        let class: DrumClass = wanted.class;
        COMPONENTS
            .iter()
            .filter(|c| c.class == class)
            .find_map(|c| position(c.name))
    })
}

/// Mixes `notes` through `kit` at `sample_rate` into `round(seconds * sample_rate)` samples.
///
/// Each note adds its component's waveform, scaled by [`velocity_gain`], starting at sample
/// `round(time * sample_rate)`; the waveform is cut at the end of the output and notes starting
/// at or after the end are ignored, as are notes no kit component can play. The kit's
/// waveforms must already be at `sample_rate`. The result is the raw sum: it may exceed 1.0
/// (see [`normalize_peak`]).
pub fn render(notes: &[MidiNote], kit: &Kit, sample_rate: u32, seconds: f64) -> Vec<f32> {
    render_through_mics(notes, kit, sample_rate, seconds, None)
}

/// [`render`] as heard through a microphone placement: each kit component's waveform is scaled
/// by its drum class's gain under `mics` (kit components with no known class keep theirs).
/// `None` is [`render`] exactly.
pub fn render_through_mics(
    notes: &[MidiNote],
    kit: &Kit,
    sample_rate: u32,
    seconds: f64,
    mics: Option<&MicPlacement>,
) -> Vec<f32> {
    let component_gain: Vec<f32> = kit
        .components
        .iter()
        .map(|c| match (mics, component_by_name(&c.name)) {
            (Some(m), Some(component)) => m.class_gain(component.class),
            _ => 1.0,
        })
        .collect();
    let len = if seconds.is_finite() && seconds > 0.0 {
        (seconds * f64::from(sample_rate)).round() as usize
    } else {
        0
    };
    let mut out = vec![0.0f32; len];
    let mut lookup: [Option<Option<usize>>; 128] = [None; 128];
    for n in notes {
        if n.note > 127 || !n.time.is_finite() || n.time < 0.0 {
            continue;
        }
        let index =
            *lookup[usize::from(n.note)].get_or_insert_with(|| kit_index_for_note(kit, n.note));
        let Some(index) = index else { continue };
        let start = (n.time * f64::from(sample_rate)).round() as usize;
        if start >= len {
            continue;
        }
        // Multiplying by exactly 1.0 (no mics) leaves every sample as it was.
        let gain = velocity_gain(n.velocity) * component_gain[index];
        let wave = &kit.components[index].samples;
        let end = (start + wave.len()).min(len);
        for (o, &w) in out[start..end].iter_mut().zip(wave) {
            *o += gain * w;
        }
    }
    out
}

/// Seconds needed to hold every note of `notes` rendered through `kit` until its waveform
/// ends (0 for no playable note): the natural output length when rendering a MIDI file.
pub fn natural_length(notes: &[MidiNote], kit: &Kit, sample_rate: u32) -> f64 {
    if sample_rate == 0 {
        return 0.0;
    }
    notes
        .iter()
        .filter(|n| n.note <= 127 && n.time.is_finite() && n.time >= 0.0)
        .filter_map(|n| {
            let index = kit_index_for_note(kit, n.note)?;
            let wave = kit.components[index].samples.len() as f64 / f64::from(sample_rate);
            Some(n.time + wave)
        })
        .fold(0.0, f64::max)
}

/// Scales `samples` so that the largest magnitude is `peak` (a linear amplitude) and returns
/// the gain applied (1.0 for silence). Record it to relate amplitudes back to velocities.
pub fn normalize_peak(samples: &mut [f32], peak: f32) -> f32 {
    let max = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    if max == 0.0 || !max.is_finite() {
        return 1.0;
    }
    let gain = peak / max;
    for s in samples.iter_mut() {
        *s *= gain;
    }
    gain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::KitComponent;

    fn kit(names: &[&str]) -> Kit {
        Kit {
            name: "test".into(),
            components: names
                .iter()
                .map(|n| KitComponent {
                    name: n.to_string(),
                    samples: vec![1.0, 0.5],
                })
                .collect(),
        }
    }

    #[test]
    fn notes_fall_back_to_their_class() {
        let k = kit(&["KD_KD", "TT_MHT", "CY_RDC"]);
        assert_eq!(kit_index_for_note(&k, 36), Some(0));
        assert_eq!(kit_index_for_note(&k, 50), Some(1)); // high tom -> the only tom
        assert_eq!(kit_index_for_note(&k, 53), Some(2)); // ride bell -> ride
        assert_eq!(kit_index_for_note(&k, 49), Some(2)); // crash -> a cymbal
        assert_eq!(kit_index_for_note(&k, 38), None); // no snare at all
        assert_eq!(kit_index_for_note(&k, 100), None);
    }

    #[test]
    fn waveforms_add_at_the_rounded_sample_and_are_cut_at_the_end() {
        let k = kit(&["KD_KD"]);
        let notes = [
            MidiNote::drum(0.00031, 36, 127, 0.05), // 4.96 -> sample 5
            MidiNote::drum(0.00031, 36, 127, 0.05),
            MidiNote::drum(0.0005625, 36, 127, 0.05), // last sample: tail cut
            MidiNote::drum(0.000625, 36, 127, 0.05),  // sample 10: past the end
        ];
        let out = render(&notes, &k, 16_000, 0.000625);
        assert_eq!(out.len(), 10);
        let mut expected = vec![0.0f32; 10];
        expected[5] = 2.0;
        expected[6] = 1.0;
        expected[9] = 1.0;
        assert_eq!(out, expected);
    }

    #[test]
    fn natural_length_covers_the_longest_tail() {
        let k = kit(&["KD_KD", "SD_SD"]); // two-sample waveforms
        let notes = [
            MidiNote::drum(0.5, 36, 100, 0.05),
            MidiNote::drum(0.25, 38, 100, 0.05),
            MidiNote::drum(9.0, 100, 100, 0.05), // not a drum: ignored
        ];
        let len = natural_length(&notes, &k, 16_000);
        assert!((len - (0.5 + 2.0 / 16_000.0)).abs() < 1e-12);
        let audio = render(&notes, &k, 16_000, len);
        assert_eq!(audio[audio.len() - 1], 0.5 * velocity_gain(100));
    }

    #[test]
    fn peak_normalisation_reports_its_gain() {
        let mut x = vec![0.5f32, -2.0, 1.0];
        let g = normalize_peak(&mut x, 0.8);
        assert!((g - 0.4).abs() < 1e-7);
        assert_eq!(x, vec![0.2, -0.8, 0.4]);
        let mut silent = vec![0.0f32; 4];
        assert_eq!(normalize_peak(&mut silent, 0.8), 1.0);
    }
}
