//! [`Variable`]: a tensor that is a node of the graph recorded as the program runs.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};

use ember_tensor::{DType, Device, Tensor};

use crate::mode::is_grad_enabled;

/// A hook on a Variable's gradient: sees the gradient and may replace it.
pub type Hook = Box<dyn Fn(&Tensor) -> Option<Tensor> + Send + Sync>;

/// A hook run after a leaf's gradient was accumulated into its `.grad` (sees the leaf).
pub type PostAccumulateHook = Box<dyn Fn(&Variable) + Send + Sync>;

/// What a backward rule sees: the op's inputs, its output, and the gradient flowing into the output.
pub struct BackwardCtx<'a> {
    /// The op's inputs, in the order they were recorded.
    pub inputs: &'a [Variable],
    /// The op's output (alive while its graph is being walked).
    pub output: &'a Variable,
    /// The gradient of the differentiated quantity with respect to `output`.
    pub grad: &'a Variable,
    /// Per input: whether this walk wants its gradient (it requires grad and, for [`crate::grad`],
    /// leads to one of the requested inputs).
    pub(crate) wanted: &'a [bool],
}

impl BackwardCtx<'_> {
    /// True when input `i` needs a gradient in this backward walk (rules skip the work for the
    /// others): it requires grad and, for [`crate::grad`], leads to a requested input.
    pub fn needs(&self, i: usize) -> bool {
        self.wanted.get(i).copied().unwrap_or(false)
    }
}

/// A backward rule: the gradient of each input (`None` where not needed or not differentiable).
pub type BackwardFn = Box<dyn Fn(&BackwardCtx<'_>) -> Vec<Option<Variable>> + Send + Sync>;

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);
static LIVE_NODES: AtomicUsize = AtomicUsize::new(0);

/// Number of graph nodes alive in the process: a training loop that frees its graphs keeps this
/// flat (used by the memory tests, and handy when hunting a leak).
pub fn live_nodes() -> usize {
    LIVE_NODES.load(Ordering::Relaxed)
}

impl Drop for Node {
    /// Releases the graph behind this node iteratively: every input held here for the last time
    /// gives its own node's inputs to an explicit stack instead of dropping them recursively, so a
    /// chain of any length drops in constant stack (a 200k-op chain used to overflow it).
    fn drop(&mut self) {
        LIVE_NODES.fetch_sub(1, Ordering::Relaxed);
        let mut stack: Vec<Variable> = std::mem::take(self.inputs.get_mut().unwrap_or_else(|e| e.into_inner()));
        while let Some(v) = stack.pop() {
            let Ok(inner) = Arc::try_unwrap(v.0) else { continue }; // other handles keep it alive
            let Inner { node, grad, .. } = inner;
            if let Some(g) = grad.into_inner().unwrap_or_else(|e| e.into_inner()) {
                stack.push(g);
            }
            let Some(node) = node.into_inner().unwrap_or_else(|e| e.into_inner()) else { continue };
            if let Ok(mut n) = Arc::try_unwrap(node) {
                stack.append(n.inputs.get_mut().unwrap_or_else(|e| e.into_inner()));
                // `n` drops here with no inputs left: no recursion
            }
        }
    }
}

fn next_node_id() -> usize {
    LIVE_NODES.fetch_add(1, Ordering::Relaxed);
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// One recorded op: its inputs and its backward rule. Node ids grow with creation, so any node's
/// inputs have smaller ids than it: walking ids downwards is a topological order.
pub(crate) struct Node {
    pub(crate) id: usize,
    pub(crate) name: &'static str,
    pub(crate) inputs: Mutex<Vec<Variable>>,
    pub(crate) output: Mutex<Weak<Inner>>,
    pub(crate) backward: Mutex<Option<BackwardFn>>,
    /// False for results whose derivative is not implemented (a backward through them fails).
    pub(crate) differentiable: bool,
    /// The version of each input when the op was recorded: `backward` fails if one has changed.
    pub(crate) versions: smallvec::SmallVec<[u64; 4]>,
    /// The version of the output when it was recorded (or adopted by an in-place op).
    pub(crate) output_version: AtomicU64,
    /// Where the op was called from, when anomaly mode was on at forward time.
    pub(crate) location: Option<&'static std::panic::Location<'static>>,
}

pub(crate) struct Inner {
    pub(crate) data: RwLock<Tensor>,
    pub(crate) grad: Mutex<Option<Variable>>,
    pub(crate) requires_grad: AtomicBool,
    pub(crate) retains_grad: AtomicBool,
    /// The op that produced the value (replaced when an in-place op records a new one).
    pub(crate) node: RwLock<Option<Arc<Node>>>,
    /// The id of `node` (0 for none; ids start at 1), written with it: `is_leaf` and the backward
    /// walk read this without taking the lock.
    pub(crate) node_id: AtomicUsize,
    /// Bumped by every in-place op and [`Variable::set_data`] (PyTorch's version counter).
    pub(crate) version: AtomicU64,
    /// Set once a hook of either kind is registered: the walk skips both hook locks without it.
    pub(crate) has_hooks: AtomicBool,
    pub(crate) hooks: Mutex<Vec<Hook>>,
    pub(crate) post_accumulate_hooks: Mutex<Vec<PostAccumulateHook>>,
    pub(crate) name: Mutex<Option<String>>,
}

impl Inner {
    fn new(data: Tensor, requires_grad: bool, node: Option<Arc<Node>>) -> Inner {
        Inner {
            data: RwLock::new(data),
            grad: Mutex::new(None),
            requires_grad: AtomicBool::new(requires_grad),
            retains_grad: AtomicBool::new(false),
            node_id: AtomicUsize::new(node.as_ref().map_or(0, |n| n.id)),
            node: RwLock::new(node),
            version: AtomicU64::new(0),
            has_hooks: AtomicBool::new(false),
            hooks: Mutex::new(Vec::new()),
            post_accumulate_hooks: Mutex::new(Vec::new()),
            name: Mutex::new(None),
        }
    }
}

/// A tensor with a place in the autograd graph: its data, whether it requires a gradient, the
/// gradient accumulated by `backward`, and (for results of ops) the node that produced it.
///
/// Cheap to clone (a shared handle), `Send + Sync`. Leaves are Variables made by the user
/// ([`Variable::new`]); results of ops on Variables that require grad are non-leaves.
///
/// ```
/// use ember_autograd::Variable;
/// use ember_tensor::Tensor;
/// let x = Variable::new(Tensor::from_vec(vec![1.0f32, 2.0, 3.0], &[3]), true);
/// let y = (&x * &x).sum();
/// y.backward();
/// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![2.0, 4.0, 6.0]);
/// ```
#[derive(Clone)]
pub struct Variable(pub(crate) Arc<Inner>);

impl Variable {
    /// A leaf Variable holding `data`; with `requires_grad`, `backward` fills its gradient.
    pub fn new(data: Tensor, requires_grad: bool) -> Variable {
        Variable::make(data, requires_grad, None)
    }

    pub(crate) fn make(data: Tensor, requires_grad: bool, node: Option<Arc<Node>>) -> Variable {
        Variable(Arc::new(Inner::new(data, requires_grad, node)))
    }

    /// Records the result `out` of op `name` on `inputs` with its backward rule, or returns a
    /// constant Variable when grad mode is off or no input requires a gradient.
    ///
    /// Results with an integer or Bool dtype are constants (they have no gradient, as in PyTorch).
    /// The inputs' versions are saved: if one is modified in place (or by
    /// [`Variable::set_data`]) before `backward` reaches this op, `backward` fails naming it.
    #[track_caller]
    pub fn record(
        name: &'static str,
        inputs: &[&Variable],
        out: Tensor,
        backward: impl Fn(&BackwardCtx<'_>) -> Vec<Option<Variable>> + Send + Sync + 'static,
    ) -> Variable {
        Variable::record_node(name, inputs, out, Some(Box::new(backward)))
    }

    /// Records `out` as the result of `name` on `inputs` whose own derivative is not implemented:
    /// using it as a constant is fine, but a backward through it fails with an error naming `name`
    /// (e.g. the gradient of a convolution, differentiated a second time).
    #[track_caller]
    pub fn record_nondifferentiable(name: &'static str, inputs: &[&Variable], out: Tensor) -> Variable {
        Variable::record_node(name, inputs, out, None)
    }

    #[track_caller]
    fn record_node(name: &'static str, inputs: &[&Variable], out: Tensor, backward: Option<BackwardFn>) -> Variable {
        if !is_grad_enabled() || !out.dtype().is_float() || !inputs.iter().any(|v| v.requires_grad()) {
            return Variable::make(out, false, None);
        }
        // the caller's line, only when anomaly mode is on (a `Location` is a static: no cost)
        let location = if crate::mode::is_anomaly_enabled() { Some(std::panic::Location::caller()) } else { None };
        // built around each other: the node's weak handle to its output exists from the start
        Variable(Arc::new_cyclic(|me| {
            let node = Arc::new(Node {
                id: next_node_id(),
                name,
                inputs: Mutex::new(inputs.iter().map(|v| (*v).clone()).collect()),
                output: Mutex::new(me.clone()),
                differentiable: backward.is_some(),
                backward: Mutex::new(backward),
                versions: inputs.iter().map(|v| v.version()).collect(),
                output_version: AtomicU64::new(0),
                location,
            });
            Inner::new(out, true, Some(node))
        }))
    }

    /// The data, shared (cheap): the tensor this Variable holds now.
    pub fn data(&self) -> Tensor {
        self.0.data.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Runs `f` on the data under the read lock, without cloning the tensor handle (for shape,
    /// dtype and device queries, which the backward walk makes for every gradient).
    pub(crate) fn with_data<R>(&self, f: impl FnOnce(&Tensor) -> R) -> R {
        f(&self.0.data.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the data without recording anything (what optimizers do to parameters).
    ///
    /// Counts as a modification, as an optimizer step does in PyTorch: it bumps the version, so a
    /// `backward` through an op recorded before, that saved this Variable, fails instead of using
    /// the new values.
    pub fn set_data(&self, t: Tensor) {
        *self.0.data.write().unwrap_or_else(|e| e.into_inner()) = t;
        self.bump_version();
    }

    /// How many times the data was modified in place or replaced (PyTorch's `_version`).
    pub fn version(&self) -> u64 {
        self.0.version.load(Ordering::Acquire)
    }

    pub(crate) fn bump_version(&self) {
        self.0.version.fetch_add(1, Ordering::AcqRel);
    }

    /// The accumulated gradient, if `backward` has reached this Variable.
    pub fn grad(&self) -> Option<Tensor> {
        self.0.grad.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|g| g.data())
    }

    /// The accumulated gradient as a Variable (differentiable after `backward` with `create_graph`).
    pub fn grad_variable(&self) -> Option<Variable> {
        self.0.grad.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sets (or clears) the gradient slot by hand.
    pub fn set_grad(&self, g: Option<Tensor>) {
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = g.map(Variable::from);
    }

    /// Clears the gradient (PyTorch's `zero_grad(set_to_none=True)`).
    pub fn zero_grad(&self) {
        *self.0.grad.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// True when `backward` computes a gradient for this Variable.
    pub fn requires_grad(&self) -> bool {
        self.0.requires_grad.load(Ordering::Relaxed)
    }

    /// Turns gradient tracking on or off for a leaf (PyTorch's `requires_grad_`).
    ///
    /// **Panics** on a non-leaf, as PyTorch does.
    #[track_caller]
    pub fn set_requires_grad(&self, on: bool) -> &Self {
        if !self.is_leaf() {
            panic!("set_requires_grad: you can only change requires_grad flags of leaf variables (this one was made by {})", self.op_name());
        }
        self.0.requires_grad.store(on, Ordering::Relaxed);
        self
    }

    /// True for Variables not produced by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.0.node_id.load(Ordering::Acquire) == 0
    }

    /// The name of the op that produced this Variable (`"leaf"` for leaves).
    pub fn op_name(&self) -> &'static str {
        self.node().map_or("leaf", |n| n.name)
    }

    /// A new leaf sharing the data, cut from the graph (never requires grad).
    #[must_use]
    pub fn detach(&self) -> Variable {
        Variable::new(self.data(), false)
    }

    /// Keeps the gradient of a non-leaf after `backward` (leaves always keep theirs).
    pub fn retain_grad(&self) {
        self.0.retains_grad.store(true, Ordering::Relaxed);
    }

    /// Registers a hook called with this Variable's gradient during backward; returning `Some`
    /// replaces the gradient that flows on (and that `.grad` or `grad` receive).
    ///
    /// As PyTorch's tensor hooks, it runs once per backward walk on the summed gradient of all the
    /// Variable's uses (for a leaf, before it is added to `.grad`), and only when the walk needs
    /// this Variable's gradient. A replacement is a constant: with `create_graph`, the gradient
    /// flowing on from a replacing hook is not differentiable further.
    pub fn register_hook(&self, hook: impl Fn(&Tensor) -> Option<Tensor> + Send + Sync + 'static) {
        self.0.hooks.lock().unwrap_or_else(|e| e.into_inner()).push(Box::new(hook));
        self.0.has_hooks.store(true, Ordering::Release);
    }

    /// Registers a hook called on this leaf right after `backward` has accumulated its gradient
    /// into `.grad` (PyTorch's `register_post_accumulate_grad_hook`): `v.grad()` inside the hook is
    /// the accumulated gradient. A leaf's gradient is complete, and its hooks run, as soon as the
    /// walk has run every op that used it, so hooks of early layers' parameters run while the
    /// rest of the backward is still to come (what data-parallel training overlaps with).
    /// Not run by [`crate::grad`], which leaves `.grad` alone.
    pub fn register_post_accumulate_grad_hook(&self, hook: impl Fn(&Variable) + Send + Sync + 'static) {
        self.0.post_accumulate_hooks.lock().unwrap_or_else(|e| e.into_inner()).push(Box::new(hook));
        self.0.has_hooks.store(true, Ordering::Release);
    }

    /// Names this Variable in graph printouts ([`Variable::graph_dot`]).
    pub fn set_name(&self, name: impl Into<String>) {
        *self.0.name.lock().unwrap_or_else(|e| e.into_inner()) = Some(name.into());
    }

    /// The name given with [`Variable::set_name`].
    pub fn name(&self) -> Option<String> {
        self.0.name.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The data's shape.
    pub fn shape(&self) -> Vec<usize> {
        self.with_data(|t| t.shape().to_vec())
    }

    /// The data's dtype.
    pub fn dtype(&self) -> DType {
        self.with_data(Tensor::dtype)
    }

    /// The data's device.
    pub fn device(&self) -> Device {
        self.with_data(Tensor::device)
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.with_data(Tensor::numel)
    }

    /// The data converted to a vector of `T` (see [`Tensor::to_vec`]).
    pub fn to_vec<T: ember_tensor::Element>(&self) -> Vec<T> {
        self.data().to_vec::<T>()
    }

    /// The one value of a one-element Variable (see [`Tensor::item`]).
    #[track_caller]
    pub fn item<T: ember_tensor::Element>(&self) -> T {
        self.data().item::<T>()
    }

    /// Checked form of [`Variable::item`] (fails unless there is exactly one element).
    pub fn try_item<T: ember_tensor::Element>(&self) -> ember_tensor::Result<T> {
        self.data().try_item::<T>()
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.with_data(Tensor::rank)
    }

    /// True when both handles are the same Variable.
    pub fn same(&self, other: &Variable) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The id of the op that produced this Variable (`None` for leaves), without taking a handle.
    pub(crate) fn node_id(&self) -> Option<usize> {
        Some(self.0.node_id.load(Ordering::Acquire)).filter(|&id| id != 0)
    }

    pub(crate) fn node(&self) -> Option<Arc<Node>> {
        self.0.node.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn run_post_accumulate_hooks(&self) {
        if !self.0.has_hooks.load(Ordering::Acquire) {
            return;
        }
        let hooks = self.0.post_accumulate_hooks.lock().unwrap_or_else(|e| e.into_inner());
        for h in hooks.iter() {
            h(self);
        }
    }

    pub(crate) fn run_hooks(&self, g: Variable) -> Variable {
        if !self.0.has_hooks.load(Ordering::Acquire) {
            return g;
        }
        let hooks = self.0.hooks.lock().unwrap_or_else(|e| e.into_inner());
        if hooks.is_empty() {
            return g;
        }
        let mut g = g;
        for h in hooks.iter() {
            if let Some(t) = h(&g.data()) {
                g = Variable::from(t);
            }
        }
        g
    }
}

impl From<Tensor> for Variable {
    /// A constant leaf (no gradient), as PyTorch's plain tensors.
    fn from(t: Tensor) -> Variable {
        Variable::new(t, false)
    }
}

impl From<&Tensor> for Variable {
    fn from(t: &Tensor) -> Variable {
        Variable::new(t.clone(), false)
    }
}

impl std::fmt::Debug for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Variable({}, requires_grad={}, op={})", self.data(), self.requires_grad(), self.op_name())
    }
}
