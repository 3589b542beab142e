//! Resampling layers: `Upsample` (nearest, linear, bilinear, bicubic, trilinear, area), `PixelShuffle`, `PixelUnshuffle`.
//!
//! ```
//! use ember_autograd::Variable;
//! use ember_nn::{Module, PixelShuffle, Upsample};
//! use ember_tensor::Tensor;
//! let x = Variable::from(Tensor::randn(&[1, 8, 3, 3]));
//! assert_eq!(PixelShuffle::new(2).forward(&x).shape(), vec![1, 2, 6, 6]);
//! let up = Upsample::new().scale_factor(2.0).mode("bilinear").align_corners(true);
//! assert_eq!(up.forward(&x).shape(), vec![1, 8, 6, 6]);
//! ```

use ember_autograd::Variable;
use ember_tensor::Result;

use crate::functional as F;
use crate::module::{forward_or_panic, layer_error};
use crate::Module;

/// Upsampling, PyTorch's `nn.Upsample(size, scale_factor, mode='nearest', align_corners=None)`:
/// [`F::interpolate`] with these options. Give `size` or `scale_factor`.
#[derive(Clone, Debug)]
pub struct Upsample {
    size: Option<Vec<usize>>,
    scale_factor: Option<f64>,
    mode: String,
    align_corners: Option<bool>,
}

impl Upsample {
    /// Nearest-neighbour upsampling; set [`size`](Upsample::size) or
    /// [`scale_factor`](Upsample::scale_factor).
    pub fn new() -> Upsample {
        Upsample { size: None, scale_factor: None, mode: "nearest".into(), align_corners: None }
    }

    /// The output's spatial size (one value for every spatial dim, or one per dim).
    #[must_use]
    pub fn size(mut self, size: &[usize]) -> Upsample {
        self.size = Some(size.to_vec());
        self
    }

    /// The factor multiplying every spatial size.
    #[must_use]
    pub fn scale_factor(mut self, f: f64) -> Upsample {
        self.scale_factor = Some(f);
        self
    }

    /// `"nearest"` (default), `"linear"`, `"bilinear"`, `"bicubic"`, `"trilinear"` or `"area"` (see [`F::interpolate`]).
    #[must_use]
    pub fn mode(mut self, mode: &str) -> Upsample {
        self.mode = mode.to_string();
        self
    }

    /// Corner alignment of the linear modes (PyTorch's default: false).
    #[must_use]
    pub fn align_corners(mut self, on: bool) -> Upsample {
        self.align_corners = Some(on);
        self
    }

    /// Checked forward: bad options or input shapes give an error naming the layer and shapes.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_interpolate(x, self.size.as_deref(), self.scale_factor, &self.mode, self.align_corners)
            .map_err(|e| layer_error("Upsample", self, e))
    }
}

impl Default for Upsample {
    fn default() -> Self {
        Upsample::new()
    }
}

impl Module for Upsample {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }
}

/// `[*, C r², H, W] -> [*, C, H r, W r]`, PyTorch's `nn.PixelShuffle(upscale_factor)`.
#[derive(Clone, Copy, Debug)]
pub struct PixelShuffle {
    upscale_factor: usize,
}

impl PixelShuffle {
    /// Rearranges channels into `upscale_factor`-times larger planes.
    pub fn new(upscale_factor: usize) -> PixelShuffle {
        PixelShuffle { upscale_factor }
    }

    /// Checked forward.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_pixel_shuffle(x, self.upscale_factor)
    }
}

impl Module for PixelShuffle {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }
}

/// `[*, C, H r, W r] -> [*, C r², H, W]`, PyTorch's `nn.PixelUnshuffle(downscale_factor)`.
#[derive(Clone, Copy, Debug)]
pub struct PixelUnshuffle {
    downscale_factor: usize,
}

impl PixelUnshuffle {
    /// Rearranges `downscale_factor`-sized blocks of each plane into channels.
    pub fn new(downscale_factor: usize) -> PixelUnshuffle {
        PixelUnshuffle { downscale_factor }
    }

    /// Checked forward.
    pub fn try_forward(&self, x: &Variable) -> Result<Variable> {
        F::try_pixel_unshuffle(x, self.downscale_factor)
    }
}

impl Module for PixelUnshuffle {
    #[track_caller]
    fn forward(&self, x: &Variable) -> Variable {
        forward_or_panic(self.try_forward(x))
    }
}
