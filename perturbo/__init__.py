"""perturbo: the 1/N (inverse width) expansion of Bayesian inference with deep shaped networks.

    from perturbo import ShapedMLP
    net = ShapedMLP(depth=4, width=64, psi=0.6)
    ev = net.evidence(X, y, beta=math.inf, order=0)
"""
from ._version import __version__
from .closed_forms import closed_form
from .depth_benefit import depth_benefit
from .model import ShapedMLP
from .runtime.kernel_flow import continuum_kernel
from .verify import VerifyReport, verify

__all__ = ["ShapedMLP", "VerifyReport", "closed_form", "continuum_kernel", "depth_benefit", "verify", "__version__"]
