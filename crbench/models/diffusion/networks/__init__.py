# populated as modules land
from .adm_unet import ADMUNet, DECNP, DEWeightNet  # noqa: F401
from .hdit import HDiT  # noqa: F401
from .hdit_temporal import TemporalHDiT  # noqa: F401
from .neighborhood_attention import neighborhood_attention_2d, set_natten_enabled  # noqa: F401
from .diffcr_nafnet import DiffCRNAFNet  # noqa: F401
