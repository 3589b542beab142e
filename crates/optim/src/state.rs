//! Optimizer state as named tensors (saved with safetensors), and its checked restore; the layout
//! is documented at [`Optimizer::state_dict`](crate::Optimizer::state_dict).

use std::collections::{BTreeMap, HashMap};

use ember_tensor::{DType, Error, Result, Tensor};

use crate::core::{known_key, Algo, Core, ParamState};
use crate::group::{check_value, Hyper};

fn bad<A: Algo>(msg: String) -> Error {
    Error::Parse(format!("{}: load_state: {msg}", A::NAME))
}

/// The one value of a 0-d numeric tensor.
fn scalar<A: Algo>(name: &str, t: &Tensor) -> Result<f64> {
    if t.rank() != 0 || t.dtype() == DType::Bool {
        return Err(bad::<A>(format!(
            "entry '{name}' must be a 0-d number, got shape {:?} of {}",
            t.shape(),
            t.dtype()
        )));
    }
    Ok(t.to_vec::<f64>()[0])
}

impl<A: Algo> Core<A> {
    /// The state as named tensors (see the module docs for the layout).
    pub(crate) fn state_dict(&self) -> Vec<(String, Tensor)> {
        let name: Vec<i64> = A::NAME.bytes().map(i64::from).collect();
        let n = name.len();
        let mut out = vec![("optimizer".to_string(), Tensor::from_vec(name, &[n]))];
        let mut first = 0;
        for (gi, g) in self.groups.iter().enumerate() {
            let idx: Vec<i64> = (first..first + g.params.len()).map(|i| i as i64).collect();
            first += g.params.len();
            let len = idx.len();
            out.push((format!("param_groups.{gi}.params"), Tensor::from_vec(idx, &[len])));
            for key in <A::H as Hyper>::KEYS {
                let v = g.hyper.get(key).expect("a declared key");
                out.push((format!("param_groups.{gi}.{key}"), Tensor::scalar(v)));
            }
            if let Some(v) = g.initial_lr {
                out.push((format!("param_groups.{gi}.initial_lr"), Tensor::scalar(v)));
            }
        }
        for (i, st) in self.state.iter().enumerate().filter(|(_, s)| s.is_set()) {
            out.push((format!("state.{i}.step"), Tensor::scalar(st.step as i64)));
            for (slot, t) in A::SLOTS.iter().zip(&st.slots) {
                if let Some(t) = t {
                    out.push((format!("state.{i}.{slot}"), t.clone()));
                }
            }
            for ((sname, _), v) in A::SCALARS.iter().zip(&st.scalars) {
                out.push((format!("state.{i}.{sname}"), Tensor::scalar(*v)));
            }
        }
        out
    }

    /// Checks `entries` against this optimizer, then replaces hyperparameters and state.
    pub(crate) fn load_state_dict(&mut self, entries: &[(String, Tensor)]) -> Result<()> {
        let map: HashMap<&str, &Tensor> = entries.iter().map(|(k, t)| (k.as_str(), t)).collect();
        let owner =
            map.get("optimizer").ok_or_else(|| bad::<A>("not an optimizer state (no 'optimizer' entry)".into()))?;
        let owner = decode_name(owner).ok_or_else(|| bad::<A>("the 'optimizer' entry is corrupt".into()))?;
        if owner != A::NAME {
            return Err(bad::<A>(format!("the file holds the state of a {owner} optimizer, not of a {}", A::NAME)));
        }
        let hypers = self.parse_groups(&map)?;
        let state = self.parse_state(&map)?;
        // Every entry must have been understood: anything else means another layout.
        for k in map.keys() {
            let group_ok = |r: &str| {
                r.split_once('.').and_then(|(g, _)| g.parse::<usize>().ok()).is_some_and(|g| g < self.groups.len())
            };
            let known =
                *k == "optimizer" || k.strip_prefix("param_groups.").is_some_and(group_ok) || k.starts_with("state.");
            if !known {
                return Err(bad::<A>(format!("unexpected entry '{k}'")));
            }
        }
        for (g, (hyper, initial_lr)) in self.groups.iter_mut().zip(hypers) {
            g.hyper = hyper;
            g.initial_lr = initial_lr;
        }
        self.state = state;
        Ok(())
    }

    /// The hyperparameters of every group, checked; the group layout must match this optimizer.
    fn parse_groups(&self, map: &HashMap<&str, &Tensor>) -> Result<Vec<(A::H, Option<f64>)>> {
        let in_file = map.keys().filter(|k| k.starts_with("param_groups.") && k.ends_with(".params")).count();
        if in_file != self.groups.len() {
            return Err(bad::<A>(format!(
                "the file has {in_file} parameter groups, this optimizer has {}",
                self.groups.len()
            )));
        }
        let mut out = Vec::with_capacity(self.groups.len());
        let mut first = 0i64;
        for (gi, g) in self.groups.iter().enumerate() {
            let key = format!("param_groups.{gi}.params");
            let idx = map.get(key.as_str()).ok_or_else(|| bad::<A>(format!("missing entry '{key}'")))?;
            if idx.dtype() != DType::I64 || idx.rank() != 1 {
                return Err(bad::<A>(format!("entry '{key}' must be a vector of I64 indices")));
            }
            let idx = idx.to_vec::<i64>();
            if idx.len() != g.params.len() {
                return Err(bad::<A>(format!(
                    "param group {gi} has {} parameters in the file but {} in this optimizer",
                    idx.len(),
                    g.params.len()
                )));
            }
            if idx.iter().enumerate().any(|(j, &v)| v != first + j as i64) {
                return Err(bad::<A>(format!("entry '{key}' does not number the parameters in order: {idx:?}")));
            }
            first += idx.len() as i64;
            let mut hyper = g.hyper.clone();
            let mut initial_lr = g.initial_lr;
            let prefix = format!("param_groups.{gi}.");
            for (k, t) in map.iter().filter(|(k, _)| k.starts_with(&prefix)) {
                let hk = &k[prefix.len()..];
                if hk == "params" {
                    continue;
                }
                let v = scalar::<A>(k, t)?;
                let known = if hk == "initial_lr" { Some("initial_lr") } else { known_key::<A>(hk) };
                let Some(known) = known else {
                    return Err(bad::<A>(format!("unknown hyperparameter '{hk}' in param group {gi}")));
                };
                check_value(known, v).map_err(|m| bad::<A>(format!("param group {gi}: {m}")))?;
                if known == "initial_lr" {
                    initial_lr = Some(v);
                } else {
                    hyper.put(known, v);
                }
            }
            A::check(&hyper).map_err(|m| bad::<A>(format!("param group {gi}: {m}")))?;
            out.push((hyper, initial_lr));
        }
        Ok(out)
    }

    /// The per-parameter state, checked against the parameters' shapes and cast to their dtype and
    /// device (as PyTorch's `load_state_dict`).
    fn parse_state(&self, map: &HashMap<&str, &Tensor>) -> Result<Vec<ParamState>> {
        let params = self.params();
        let mut by_param: BTreeMap<usize, Vec<(&str, &Tensor)>> = BTreeMap::new();
        for (k, t) in map.iter() {
            let Some(rest) = k.strip_prefix("state.") else { continue };
            let (i, name) = rest.split_once('.').ok_or_else(|| bad::<A>(format!("malformed entry '{k}'")))?;
            let i: usize = i.parse().map_err(|_| bad::<A>(format!("malformed entry '{k}'")))?;
            if i >= params.len() {
                return Err(bad::<A>(format!(
                    "entry '{k}' is for parameter {i}, but this optimizer has {} parameters",
                    params.len()
                )));
            }
            by_param.entry(i).or_default().push((name, *t));
        }
        let mut state: Vec<ParamState> = (0..params.len()).map(|_| ParamState::fresh::<A>()).collect();
        for (i, entries) in by_param {
            let p = params[i].data();
            let st = &mut state[i];
            let mut has_step = false;
            for (name, t) in &entries {
                let key = format!("state.{i}.{name}");
                if *name == "step" {
                    let v = scalar::<A>(&key, t)?;
                    if !(v >= 0.0 && v.fract() == 0.0 && v < 9.0e15) {
                        return Err(bad::<A>(format!("entry '{key}' must be a step count, got {v}")));
                    }
                    st.step = v as u64;
                    has_step = true;
                } else if let Some(s) = A::SLOTS.iter().position(|s| s == name) {
                    if t.shape() != p.shape() || !t.dtype().is_float() {
                        return Err(bad::<A>(format!(
                            "entry '{key}' has shape {:?} of {} but parameter {i} has shape {:?} of {}",
                            t.shape(),
                            t.dtype(),
                            p.shape(),
                            p.dtype()
                        )));
                    }
                    let t = t.to_dtype(p.dtype()).try_to(&p.device())?;
                    st.slots[s] = Some(t);
                } else if let Some(s) = A::SCALARS.iter().position(|(s, _)| s == name) {
                    st.scalars[s] = scalar::<A>(&key, t)?;
                } else {
                    return Err(bad::<A>(format!("unknown state entry '{key}' for {}", A::NAME)));
                }
            }
            if !has_step {
                return Err(bad::<A>(format!("missing entry 'state.{i}.step'")));
            }
            if st.step > 0 {
                let names: Vec<&str> = entries.iter().map(|(n, _)| *n).collect();
                let required = A::REQUIRED.iter().chain(A::SCALARS.iter().map(|(n, _)| n));
                if let Some(missing) = required.into_iter().find(|r| !names.contains(r)) {
                    return Err(bad::<A>(format!("missing entry 'state.{i}.{missing}'")));
                }
            }
        }
        Ok(state)
    }
}

fn decode_name(t: &Tensor) -> Option<String> {
    if t.dtype() != DType::I64 || t.rank() != 1 {
        return None;
    }
    let bytes: Option<Vec<u8>> = t.to_vec::<i64>().into_iter().map(|b| u8::try_from(b).ok()).collect();
    String::from_utf8(bytes?).ok()
}
