//! The backward walk: topological order, gradient accumulation (written once, here), hooks,
//! retained grads, anomaly checks, and freeing the graph afterwards.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use ember_tensor::{Error, Result, Tensor};
use smallvec::SmallVec;

use crate::idhash::{IdMap, IdSet};
use crate::mode::{enable_grad, is_anomaly_enabled, no_grad};
use crate::variable::{BackwardCtx, Inner, Node};
use crate::Variable;

fn err(op: &'static str, msg: impl Into<String>) -> Error {
    Error::InvalidArgument { op, msg: msg.into() }
}

/// `a + b` for gradients, recorded only with `create_graph`. Fails (instead of panicking) where
/// the two cannot be added: a `.grad` set by hand with another dtype, shape or device.
fn grad_sum(create_graph: bool, prev: Variable, g: Variable) -> Result<Variable> {
    let sum = if create_graph { enable_grad(|| prev.try_add(&g)) } else { no_grad(|| prev.try_add(&g)) };
    sum.map_err(|e| {
        err(
            "backward",
            format!(
                "cannot add a gradient of dtype {} and shape {:?} to the gradient of dtype {} and shape {:?} \
                 gathered (or set with set_grad) before it: {e}",
                g.dtype(),
                g.shape(),
                prev.dtype(),
                prev.shape()
            ),
        )
    })
}

/// The nodes of one walk, sorted by id (creation order, so inputs come before their consumers).
struct Nodes {
    ids: Vec<usize>,
    nodes: Vec<Arc<Node>>,
}

impl Nodes {
    /// The position of the node with id `id` (every node reachable from the roots is here).
    fn position(&self, id: usize) -> Option<usize> {
        self.ids.binary_search(&id).ok()
    }
}

/// Gradients gathered during one walk, one sum per Variable: a node's output is complete when the
/// walk reaches its node (every consumer has a larger id), a leaf's once the walk has run the
/// consumer with the smallest id (then it is delivered at once, so leaf hooks run during the walk).
struct Pending {
    create_graph: bool,
    /// Per node position: the gradient of its output gathered so far.
    by_node: Vec<Option<Variable>>,
    leaves: Vec<Option<(Variable, Variable)>>,
    leaf_index: IdMap<usize>,
}

impl Pending {
    fn add(&mut self, nodes: &Nodes, v: &Variable, g: Variable) -> Result<()> {
        let create_graph = self.create_graph;
        match v.node_id() {
            Some(id) => {
                // the inputs of every node of the walk are in it, so this always finds the slot
                let Some(slot) = nodes.position(id).map(|i| &mut self.by_node[i]) else { return Ok(()) };
                *slot = Some(match slot.take() {
                    Some(prev) => grad_sum(create_graph, prev, g)?,
                    None => g,
                });
            }
            None => {
                let key = Arc::as_ptr(&v.0) as usize;
                match self.leaf_index.get(&key).and_then(|&i| self.leaves[i].take().map(|e| (i, e))) {
                    Some((i, (leaf, prev))) => self.leaves[i] = Some((leaf, grad_sum(create_graph, prev, g)?)),
                    None => {
                        self.leaf_index.insert(key, self.leaves.len());
                        self.leaves.push(Some((v.clone(), g)));
                    }
                }
            }
        }
        Ok(())
    }

    /// Takes the gathered gradient of the leaf with key `key` out (it is complete).
    fn take_leaf(&mut self, key: usize) -> Option<(Variable, Variable)> {
        let i = self.leaf_index.remove(&key)?;
        self.leaves[i].take()
    }
}

/// Where gradients go: into leaves' `.grad` (backward) or into a result list (`grad`).
enum Sink<'a> {
    Leaves,
    Targets { targets: &'a [Variable], out: Vec<Option<Variable>> },
}

impl Sink<'_> {
    /// Hands the complete gradient `g` of `v` over: its hooks run (once per walk, on the sum, as
    /// PyTorch's tensor hooks), then it is stored where it belongs (a leaf's or retained `.grad`,
    /// or the result of `grad`). Returns the gradient that flows on.
    fn deliver(&mut self, v: &Variable, g: Variable, create_graph: bool) -> Result<Variable> {
        let g = v.run_hooks(g);
        let keep = |g: &Variable| if create_graph { g.clone() } else { Variable::from(g.data()) };
        match self {
            Sink::Targets { targets, out } => {
                if let Some(i) = targets.iter().position(|t| t.same(v)) {
                    out[i] = Some(keep(&g));
                }
            }
            Sink::Leaves => {
                let leaf = v.is_leaf();
                let store = if leaf { v.requires_grad() } else { v.0.retains_grad.load(Ordering::Relaxed) };
                if store {
                    let mut slot = v.0.grad.lock().unwrap_or_else(|e| e.into_inner());
                    let new = match slot.take() {
                        None => keep(&g),
                        Some(prev) => match accumulate_in_place(prev, &g, create_graph) {
                            Ok(sum) => sum,
                            Err(prev) => match grad_sum(create_graph, prev.clone(), keep(&g)) {
                                Ok(sum) => sum,
                                Err(e) => {
                                    *slot = Some(prev); // the gradient gathered so far stays
                                    return Err(e);
                                }
                            },
                        },
                    };
                    *slot = Some(new);
                    drop(slot);
                    if leaf {
                        v.run_post_accumulate_hooks();
                    }
                }
            }
        }
        Ok(g)
    }
}

/// `prev + g` written into `prev`'s data when nothing else can see that Variable (no other
/// handle, no graph behind it) and the sum keeps its dtype, shape and device, as PyTorch's
/// `AccumulateGrad` adds into `.grad` in place; the data itself is copy-on-write, so a tensor
/// taken earlier with [`Variable::grad`] keeps its value. `Err(prev)` where that does not hold
/// (with `create_graph` the sum must be recorded).
fn accumulate_in_place(
    mut prev: Variable,
    g: &Variable,
    create_graph: bool,
) -> std::result::Result<Variable, Variable> {
    if create_graph {
        return Err(prev);
    }
    let Some(inner) = Arc::get_mut(&mut prev.0) else { return Err(prev) };
    let plain = *inner.node_id.get_mut() == 0 && !*inner.requires_grad.get_mut();
    let data = inner.data.get_mut().unwrap_or_else(|e| e.into_inner());
    let add = g.data();
    let fits = data.dtype() == add.dtype() && data.shape() == add.shape() && data.device() == add.device();
    if plain && fits && data.try_add_(&add).is_ok() {
        Ok(prev)
    } else {
        Err(prev)
    }
}

/// Every node reachable from `roots`, sorted by id, and each leaf input with the id of a consumer
/// (`(leaf key, consumer id)`).
fn collect(roots: &[(Variable, Variable)]) -> (Nodes, Vec<(usize, usize)>) {
    let mut seen = IdSet::default();
    let mut found: Vec<(usize, Arc<Node>)> = Vec::new();
    let mut leaf_uses: Vec<(usize, usize)> = Vec::new();
    let mut stack: Vec<Arc<Node>> = roots.iter().filter_map(|(v, _)| v.node()).collect();
    while let Some(n) = stack.pop() {
        if !seen.insert(n.id) {
            continue;
        }
        for inp in n.inputs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            match inp.node_id() {
                Some(c) if !seen.contains(&c) => stack.extend(inp.node()),
                Some(_) => {}
                None => leaf_uses.push((Arc::as_ptr(&inp.0) as usize, n.id)),
            }
        }
        found.push((n.id, n));
    }
    found.sort_unstable_by_key(|(id, _)| *id);
    let (ids, nodes) = found.into_iter().unzip();
    (Nodes { ids, nodes }, leaf_uses)
}

/// Runs the backward walk from `roots` (each with its upstream gradient).
///
/// With `targets`, gradients of those Variables are returned and no `.grad` is touched (only the
/// ops between the roots and the targets run); without, gradients accumulate into the leaves'
/// `.grad` (and the `.grad` of non-leaves that [`Variable::retain_grad`]). With `create_graph`,
/// backward rules are recorded, so the gradients are differentiable. Without `retain_graph`, the
/// rules and saved inputs of the ops that ran are freed (each as it runs; the inputs are dropped
/// when the walk ends).
pub fn run_backward(
    roots: &[(Variable, Variable)],
    targets: Option<&[Variable]>,
    retain_graph: bool,
    create_graph: bool,
) -> Result<Vec<Option<Variable>>> {
    // backward rules compute in the dtypes their forward saw, whatever autocast says now
    let _autocast_off = crate::autocast::Restore::suspend();
    let mut sink = match targets {
        None => Sink::Leaves,
        Some(t) => Sink::Targets { targets: t, out: vec![None; t.len()] },
    };
    // 1. every node reachable from the roots, ordered by id (creation order); on the way, each
    // leaf input with the id of a consumer (for step 3)
    let (nodes, mut leaf_uses) = collect(roots);
    // 2. with targets, only the nodes with a target among their ancestors need to run (inputs have
    // smaller ids, so one ascending pass decides); per node position
    let needed: Option<Vec<bool>> = targets.map(|t| {
        let mut needed = vec![false; nodes.nodes.len()];
        for (k, n) in nodes.nodes.iter().enumerate() {
            let inputs = n.inputs.lock().unwrap_or_else(|e| e.into_inner());
            needed[k] = inputs.iter().any(|i| {
                t.iter().any(|t| t.same(i)) || i.node_id().and_then(|c| nodes.position(c)).is_some_and(|c| needed[c])
            });
        }
        needed
    });
    // 3. when each leaf input is complete: after its consumer with the smallest id has run
    // (sorted by key then id, the first entry of each key has its smallest consumer id)
    leaf_uses.sort_unstable();
    leaf_uses.dedup_by_key(|&mut (key, _)| key);
    let mut leaf_ready: Vec<(usize, usize)> = leaf_uses.into_iter().map(|(k, id)| (id, k)).collect();
    leaf_ready.sort_unstable_by(|a, b| b.cmp(a));
    // 4. seed the roots, walk ids downwards (delivering leaves as they complete), then hand the
    // remaining leaves (roots that are leaves) their sums
    let mut pending = Pending {
        create_graph,
        by_node: vec![None; nodes.nodes.len()],
        leaves: Vec::new(),
        leaf_index: IdMap::default(),
    };
    for (v, g) in roots {
        pending.add(&nodes, v, g.clone())?;
    }
    let mut spent: Vec<SmallVec<[Variable; 4]>> = Vec::new();
    let ctx = WalkCtx {
        nodes: &nodes,
        needed: needed.as_deref(),
        targets,
        leaf_ready: &leaf_ready,
        create_graph,
        retain_graph,
    };
    let result = walk(&ctx, &mut pending, &mut sink, &mut spent);
    if result.is_ok() {
        for (v, g) in std::mem::take(&mut pending.leaves).into_iter().flatten() {
            sink.deliver(&v, g, create_graph)?;
        }
    }
    // the inputs taken from freed nodes were kept to here: some are outputs of nodes run later
    drop(spent);
    result?;
    Ok(match sink {
        Sink::Leaves => Vec::new(),
        Sink::Targets { out, .. } => out,
    })
}

/// What the walk reads: the nodes, which of them are needed (by position), the targets, when each
/// leaf's gradient is complete (`(smallest consumer id, leaf key)`, by decreasing id),
/// `create_graph`, and whether the rules and inputs of the nodes that run are kept.
struct WalkCtx<'n, 't> {
    nodes: &'n Nodes,
    needed: Option<&'t [bool]>,
    targets: Option<&'t [Variable]>,
    leaf_ready: &'t [(usize, usize)],
    create_graph: bool,
    retain_graph: bool,
}

/// Runs the needed nodes by decreasing id. Without `retain_graph`, each node's rule and inputs are
/// taken out of it as it runs (freed: a second backward through it fails), and the inputs are
/// moved to `spent`, which keeps them alive until the walk ends.
fn walk(
    cx: &WalkCtx<'_, '_>,
    pending: &mut Pending,
    sink: &mut Sink<'_>,
    spent: &mut Vec<SmallVec<[Variable; 4]>>,
) -> Result<()> {
    let WalkCtx { nodes, needed, targets, create_graph, retain_graph, .. } = *cx;
    let mut next_leaf = 0;
    for (pos, node) in nodes.nodes.iter().enumerate().rev() {
        let id = node.id;
        // leaves whose every consumer (all have larger ids) has run are complete: deliver them now
        while let Some(&(ready_at, key)) = cx.leaf_ready.get(next_leaf) {
            if ready_at <= id {
                break;
            }
            next_leaf += 1;
            if let Some((v, g)) = pending.take_leaf(key) {
                sink.deliver(&v, g, create_graph)?;
            }
        }
        let Some(g) = pending.by_node[pos].take() else { continue };
        let output: Option<Arc<Inner>> = node.output.lock().unwrap_or_else(|e| e.into_inner()).upgrade();
        let Some(output) = output.map(Variable) else {
            return Err(err("backward", format!("the output of {} was freed before its gradient arrived", node.name)));
        };
        let g = sink.deliver(&output, g, create_graph)?;
        if needed.is_some_and(|n| !n[pos]) {
            continue;
        }
        let mut guard = node.backward.lock().unwrap_or_else(|e| e.into_inner());
        if !node.differentiable {
            return Err(err(
                "backward",
                format!("the derivative of {} is not implemented (a double backward through this op)", node.name),
            ));
        }
        let freed = || {
            err(
                "backward",
                format!(
                    "trying to backward through the graph a second time (through {}): its saved values were freed \
                     after the first backward; pass retain_graph=true the first time",
                    node.name
                ),
            )
        };
        if guard.is_none() {
            return Err(freed());
        }
        let inputs: SmallVec<[Variable; 4]> = {
            let mut held = node.inputs.lock().unwrap_or_else(|e| e.into_inner());
            check_versions(node, &held, &output)?;
            if retain_graph {
                held.iter().cloned().collect()
            } else {
                held.drain(..).collect()
            }
        };
        let owned = if retain_graph { None } else { guard.take() };
        let Some(rule) = owned.as_ref().or(guard.as_ref()) else { return Err(freed()) };
        let wanted: SmallVec<[bool; 4]> = inputs
            .iter()
            .map(|i| {
                i.requires_grad()
                    && match (needed, targets) {
                        (Some(n), Some(t)) => {
                            t.iter().any(|t| t.same(i))
                                || i.node_id().and_then(|c| nodes.position(c)).is_some_and(|c| n[c])
                        }
                        _ => true,
                    }
            })
            .collect();
        let ctx = BackwardCtx { inputs: &inputs, output: &output, grad: &g, wanted: &wanted };
        let in_grads = if create_graph { enable_grad(|| rule(&ctx)) } else { no_grad(|| rule(&ctx)) };
        drop(guard);
        drop(owned);
        if in_grads.len() != inputs.len() {
            return Err(err(
                "backward",
                format!("rule of {} returned {} gradients for {} inputs", node.name, in_grads.len(), inputs.len()),
            ));
        }
        for (k, (inp, ig)) in inputs.iter().zip(in_grads).enumerate() {
            let Some(ig) = ig else { continue };
            if !wanted[k] {
                continue;
            }
            let gs: SmallVec<[usize; 6]> = ig.with_data(|t| SmallVec::from_slice(t.shape()));
            if !inp.with_data(|t| t.shape() == &gs[..]) {
                return Err(err(
                    "backward",
                    format!(
                        "rule of {} produced a gradient of shape {:?} for an input of shape {:?}",
                        node.name,
                        &gs[..],
                        inp.shape()
                    ),
                ));
            }
            if is_anomaly_enabled() && !all_finite(&ig.data()) {
                let is = inp.shape();
                let at = node
                    .location
                    .map_or(String::new(), |l| format!("; the forward call of '{}' was at {l}", node.name));
                return Err(err(
                    "backward",
                    format!(
                        "anomaly detected: function '{}' returned nan or inf values in its gradient for input {k} \
                         (shape {is:?}){at}",
                        node.name
                    ),
                ));
            }
            pending.add(nodes, inp, ig)?;
        }
        if !retain_graph {
            spent.push(inputs);
        }
    }
    Ok(())
}

/// Fails when an input or the output of `node` was modified (in place, or by `set_data`) after
/// the op was recorded: its rule would compute the gradient from values it never saw.
fn check_versions(node: &Node, inputs: &[Variable], output: &Variable) -> Result<()> {
    let stale = |what: String, v: &Variable, now: u64, then: u64| {
        let who = if v.is_leaf() { "a leaf".to_string() } else { format!("the output of {}", v.op_name()) };
        err(
            "backward",
            format!(
                "one of the variables needed for gradient computation has been modified by an inplace operation: \
                 {what} ({who}, shape {:?}) is at version {now}; expected version {then} instead",
                v.shape()
            ),
        )
    };
    for (k, (inp, &then)) in inputs.iter().zip(&node.versions).enumerate() {
        let now = inp.version();
        if now != then {
            return Err(stale(format!("input {k} of {}", node.name), inp, now, then));
        }
    }
    let (now, then) = (output.version(), node.output_version.load(Ordering::Acquire));
    if now != then {
        return Err(stale(format!("output of {}", node.name), output, now, then));
    }
    Ok(())
}

fn all_finite(t: &Tensor) -> bool {
    !t.dtype().is_float() || t.isfinite().all().item::<bool>()
}

/// # Backward
impl Variable {
    /// Computes the gradient of this scalar with respect to every leaf that requires grad, adding
    /// it to their `.grad`. Frees the graph.
    ///
    /// **Panics** on a non-scalar, on a Variable that does not require grad, or on a second backward
    /// through a freed graph; see [`Variable::try_backward`].
    #[track_caller]
    pub fn backward(&self) {
        if let Err(e) = self.try_backward() {
            panic!("{e}");
        }
    }

    /// Checked form of [`Variable::backward`].
    pub fn try_backward(&self) -> Result<()> {
        self.backward_opts(None, false, false)
    }

    /// Backward from a non-scalar with an explicit upstream gradient of this Variable's shape.
    #[track_caller]
    pub fn backward_with(&self, grad: &Tensor) {
        if let Err(e) = self.try_backward_with(grad) {
            panic!("{e}");
        }
    }

    /// Checked form of [`Variable::backward_with`].
    pub fn try_backward_with(&self, grad: &Tensor) -> Result<()> {
        self.backward_opts(Some(grad), false, false)
    }

    /// Backward with every option: upstream gradient (`None`: 1 for a scalar), keeping the graph for
    /// another backward, and recording the backward itself (`create_graph`, for higher derivatives).
    pub fn backward_opts(&self, grad: Option<&Tensor>, retain_graph: bool, create_graph: bool) -> Result<()> {
        let seed = seed_grad(self, grad, 0)?;
        run_backward(&[(self.clone(), seed)], None, retain_graph || create_graph, create_graph).map(|_| ())
    }
}

fn seed_grad(out: &Variable, grad: Option<&Tensor>, i: usize) -> Result<Variable> {
    if !out.requires_grad() {
        return Err(err(
            "backward",
            format!("element {i} of tensors does not require grad and does not have a grad_fn"),
        ));
    }
    let data = out.data();
    match grad {
        None => {
            if data.numel() != 1 {
                return Err(err(
                    "backward",
                    format!(
                        "grad can be implicitly created only for scalar outputs (output {i} has shape {:?})",
                        data.shape()
                    ),
                ));
            }
            Ok(Variable::from(data.ones_like()))
        }
        Some(g) => {
            if g.shape() != data.shape() {
                return Err(err(
                    "backward",
                    format!(
                        "Mismatch in shape: grad_output[{i}] has a shape of {:?} and output[{i}] has a shape of {:?}",
                        g.shape(),
                        data.shape()
                    ),
                ));
            }
            if g.dtype() != data.dtype() {
                return Err(Error::DTypeMismatch { op: "backward", expected: data.dtype(), got: g.dtype() });
            }
            Ok(Variable::from(g.clone()))
        }
    }
}

/// Gradients of the scalar `output` with respect to `inputs` (PyTorch's `torch.autograd.grad`).
///
/// No `.grad` is modified. With `create_graph`, the returned gradients are themselves recorded and
/// can be differentiated again (Hessian-vector products, gradient penalties); the graph is then
/// kept, else freed. An input the output does not depend on gets a zero gradient.
///
/// **Panics** where [`try_grad`] returns an error.
///
/// ```
/// use ember_autograd::{grad, Variable};
/// use ember_tensor::Tensor;
/// let x = Variable::new(Tensor::from_vec(vec![1.0f64, 2.0], &[2]), true);
/// let w = Variable::new(Tensor::from_vec(vec![3.0f64, -1.0], &[2]), true);
/// let y = (&x * &w).sum();
/// let gx = grad(&y, &[&x], true).remove(0); // = w, recorded
/// assert_eq!(gx.to_vec::<f64>(), vec![3.0, -1.0]);
/// let gw = grad(&gx.square().sum(), &[&w], false).remove(0); // d/dw |w|^2 = 2w
/// assert_eq!(gw.to_vec::<f64>(), vec![6.0, -2.0]);
/// assert!(x.grad().is_none()); // grad() leaves .grad alone
/// ```
#[track_caller]
pub fn grad(output: &Variable, inputs: &[&Variable], create_graph: bool) -> Vec<Variable> {
    match try_grad(output, inputs, create_graph) {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

/// Checked form of [`grad`]: fails on a non-scalar output, an output or input that does not require
/// grad, or a freed graph.
pub fn try_grad(output: &Variable, inputs: &[&Variable], create_graph: bool) -> Result<Vec<Variable>> {
    grad_with(&[output], &[None], inputs, create_graph, create_graph)
}

/// The general form of [`grad`]: several outputs, each with an optional upstream gradient.
pub fn grad_with(
    outputs: &[&Variable],
    grad_outputs: &[Option<&Tensor>],
    inputs: &[&Variable],
    retain_graph: bool,
    create_graph: bool,
) -> Result<Vec<Variable>> {
    if outputs.len() != grad_outputs.len() {
        return Err(err("grad", format!("{} outputs but {} grad_outputs", outputs.len(), grad_outputs.len())));
    }
    for (i, v) in inputs.iter().enumerate() {
        if !v.requires_grad() {
            return Err(err("grad", format!("input {i} does not require grad (create it with requires_grad = true)")));
        }
    }
    let mut roots = Vec::with_capacity(outputs.len());
    for (i, (o, g)) in outputs.iter().zip(grad_outputs).enumerate() {
        roots.push(((*o).clone(), seed_grad(o, *g, i)?));
    }
    let targets: Vec<Variable> = inputs.iter().map(|v| (*v).clone()).collect();
    let got = run_backward(&roots, Some(&targets), retain_graph, create_graph)?;
    Ok(got.into_iter().zip(inputs).map(|(g, v)| g.unwrap_or_else(|| Variable::from(v.data().zeros_like()))).collect())
}
