//! Graph printouts: the recorded graph behind a Variable as Graphviz DOT.

use std::collections::HashSet;
use std::fmt::Write;
use std::sync::Arc;

use crate::Variable;

/// # Debugging
impl Variable {
    /// The graph that produced this Variable, as Graphviz DOT (`dot -Tpng`): one box per recorded
    /// op (name and output shape), one ellipse per leaf (its name if set, shape, and whether it
    /// requires grad), edges from inputs to ops.
    ///
    /// ```
    /// use ember_autograd::Variable;
    /// use ember_tensor::Tensor;
    /// let w = Variable::new(Tensor::ones(&[3]), true);
    /// w.set_name("w");
    /// let y = (&w * 2.0).sum();
    /// let dot = y.graph_dot();
    /// assert!(dot.contains("mul") && dot.contains("sum") && dot.contains("w"));
    /// ```
    pub fn graph_dot(&self) -> String {
        let mut out = String::from("digraph ember {\n  rankdir=BT;\n  node [fontname=\"monospace\"];\n");
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack = vec![self.clone()];
        let id = |v: &Variable| Arc::as_ptr(&v.0) as usize;
        while let Some(v) = stack.pop() {
            if !seen.insert(id(&v)) {
                continue;
            }
            let shape = v.shape();
            let label = match (v.node(), v.name()) {
                (Some(n), Some(name)) => format!("{} {name}\\n{shape:?}", n.name),
                (Some(n), None) => format!("{}\\n{shape:?}", n.name),
                (None, Some(name)) => format!("{name}\\n{shape:?}{}", if v.requires_grad() { " grad" } else { "" }),
                (None, None) => format!("leaf\\n{shape:?}{}", if v.requires_grad() { " grad" } else { "" }),
            };
            let node_shape = if v.is_leaf() { "ellipse" } else { "box" };
            let _ = writeln!(out, "  n{} [label=\"{label}\", shape={node_shape}];", id(&v));
            if let Some(n) = v.node() {
                for inp in n.inputs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                    let _ = writeln!(out, "  n{} -> n{};", id(inp), id(&v));
                    stack.push(inp.clone());
                }
            }
        }
        out.push_str("}\n");
        out
    }
}
