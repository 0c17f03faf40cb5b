//! Adam (Kingma & Ba) with PyTorch's defaults, written out so that its moments can be saved in a
//! checkpoint and a resumed run continues exactly where it stopped (candle_nn's optimizers keep
//! their state private).

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamParams {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
}

pub struct Adam {
    params: AdamParams,
    vars: Vec<(String, Var)>,
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    /// Steps taken so far (bias correction uses it).
    t: u64,
}

impl Adam {
    pub fn new(vars: Vec<(String, Var)>, params: AdamParams) -> Result<Self> {
        let m = vars
            .iter()
            .map(|(_, v)| v.zeros_like())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let v = m.clone();
        Ok(Adam {
            params,
            vars,
            m,
            v,
            t: 0,
        })
    }

    /// The learning rate of the following updates (a schedule sets it before each).
    pub fn set_learning_rate(&mut self, lr: f64) {
        self.params.lr = lr;
    }

    pub fn steps_taken(&self) -> u64 {
        self.t
    }

    pub fn vars(&self) -> &[(String, Var)] {
        &self.vars
    }

    /// One update from the gradients of the last backward pass. Variables without a gradient
    /// are left alone (their moments are not decayed, as in PyTorch).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.t += 1;
        let AdamParams {
            lr,
            beta1,
            beta2,
            eps,
        } = self.params;
        let bc1 = 1.0 - beta1.powi(self.t as i32);
        let bc2 = 1.0 - beta2.powi(self.t as i32);
        for (i, (_, var)) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let m = ((&self.m[i] * beta1)? + (g * (1.0 - beta1))?)?;
            let v = ((&self.v[i] * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let denom = ((&v / bc2)?.sqrt()? + eps)?;
            let update = ((&m / bc1)? / denom)?;
            var.set(&(var.as_tensor() - (update * lr)?)?)?;
            self.m[i] = m;
            self.v[i] = v;
        }
        Ok(())
    }

    /// The optimizer state as named tensors, for a checkpoint.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::with_capacity(2 * self.vars.len());
        for (i, (name, _)) in self.vars.iter().enumerate() {
            out.push((format!("adam.m.{name}"), self.m[i].clone()));
            out.push((format!("adam.v.{name}"), self.v[i].clone()));
        }
        out
    }

    /// Restores the state written by [`Adam::state_tensors`].
    pub fn load_state(
        &mut self,
        tensors: &std::collections::HashMap<String, Tensor>,
        steps_taken: u64,
    ) -> Result<()> {
        for (i, (name, var)) in self.vars.iter().enumerate() {
            for (kind, slot) in [("m", &mut self.m[i]), ("v", &mut self.v[i])] {
                let key = format!("adam.{kind}.{name}");
                let t = tensors.get(&key).ok_or_else(|| {
                    Error::Invalid(format!("checkpoint lacks optimizer state `{key}`"))
                })?;
                if t.dims() != var.dims() {
                    return Err(Error::Invalid(format!(
                        "checkpoint optimizer state `{key}` has shape {:?}, expected {:?}",
                        t.dims(),
                        var.dims()
                    )));
                }
                *slot = t.to_device(var.device())?.to_dtype(var.dtype())?;
            }
        }
        self.t = steps_taken;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    /// Minimises (x - 3)^2 and checks the first step against the closed form: Adam's first
    /// update is lr * sign(g) (bias-corrected m/sqrt(v) = g/|g|).
    #[test]
    fn first_step_is_lr_times_sign_and_converges() {
        let x = Var::from_tensor(&Tensor::new(&[0.0f32, 5.0], &Device::Cpu).unwrap()).unwrap();
        let params = AdamParams {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        };
        let mut adam = Adam::new(vec![("x".into(), x.clone())], params).unwrap();
        let loss = |x: &Var| {
            (x.as_tensor() - 3.0)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
        };
        let grads = loss(&x).backward().unwrap();
        adam.step(&grads).unwrap();
        let v = x.as_tensor().to_vec1::<f32>().unwrap();
        assert!(
            (v[0] - 0.1).abs() < 1e-6 && (v[1] - 4.9).abs() < 1e-6,
            "{v:?}"
        );
        for _ in 0..500 {
            let grads = loss(&x).backward().unwrap();
            adam.step(&grads).unwrap();
        }
        let v = x.as_tensor().to_vec1::<f32>().unwrap();
        assert!(v.iter().all(|x| (x - 3.0).abs() < 1e-2), "{v:?}");
    }

    #[test]
    fn state_round_trip_continues_identically() {
        let make =
            || Var::from_tensor(&Tensor::new(&[1.0f32, -2.0, 0.5], &Device::Cpu).unwrap()).unwrap();
        let params = AdamParams {
            lr: 0.05,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        };
        let loss = |x: &Var| x.as_tensor().sqr().unwrap().sum_all().unwrap();
        let (a, b) = (make(), make());
        let mut oa = Adam::new(vec![("p".into(), a.clone())], params).unwrap();
        for _ in 0..5 {
            oa.step(&loss(&a).backward().unwrap()).unwrap();
        }
        b.set(a.as_tensor()).unwrap();
        let state: std::collections::HashMap<_, _> = oa.state_tensors().into_iter().collect();
        let mut ob = Adam::new(vec![("p".into(), b.clone())], params).unwrap();
        ob.load_state(&state, oa.steps_taken()).unwrap();
        for _ in 0..5 {
            oa.step(&loss(&a).backward().unwrap()).unwrap();
            ob.step(&loss(&b).backward().unwrap()).unwrap();
        }
        let (va, vb) = (
            a.as_tensor().to_vec1::<f32>().unwrap(),
            b.as_tensor().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(va, vb);
        assert_eq!(a.as_tensor().dtype(), DType::F32);
    }
}
