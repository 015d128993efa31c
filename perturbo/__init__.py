"""perturbo: the 1/N (inverse width) expansion of Bayesian inference with deep shaped networks.

    from perturbo import ShapedMLP
    net = ShapedMLP(depth=4, width=64, psi=0.6)
    ev = net.evidence(X, y, beta=math.inf, order=0)
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("perturbo")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0+unknown"

from .closed_forms import closed_form  # noqa: E402
from .depth_benefit import depth_benefit  # noqa: E402
from .model import ShapedMLP  # noqa: E402  (the code generator reads __version__)
from .runtime.kernel_flow import continuum_kernel  # noqa: E402
from .verify import VerifyReport, verify  # noqa: E402

__all__ = ["ShapedMLP", "VerifyReport", "closed_form", "continuum_kernel", "depth_benefit", "verify", "__version__"]
