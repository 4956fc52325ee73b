"""Evaluation: metric functions, named protocols, offline LPIPS, CRMetric."""
from . import functional
from .functional import (mae, psnr, rmse, sam_degrees, ssim_gaussian,
                         ssim_uniform)
from .lpips_metric import (ALEXNET_ENV_VAR, ALEXNET_FILENAME,
                           LPIPSUnavailableError, build_lpips,
                           find_alexnet_weights)
from .metric import RANDOM_LPIPS_KEY, CRMetric
from .protocols import (PROTOCOLS, BaseProtocol, CUHKOfficialProtocol,
                        SEN12MSCROfficialProtocol, Sen2MTCOfficialProtocol,
                        StandardProtocol, get_protocol, nanmean_results)

__all__ = [
    'functional', 'mae', 'psnr', 'rmse', 'sam_degrees', 'ssim_gaussian',
    'ssim_uniform', 'ALEXNET_ENV_VAR', 'ALEXNET_FILENAME',
    'LPIPSUnavailableError', 'build_lpips', 'find_alexnet_weights',
    'RANDOM_LPIPS_KEY', 'CRMetric', 'PROTOCOLS', 'BaseProtocol',
    'CUHKOfficialProtocol', 'SEN12MSCROfficialProtocol',
    'Sen2MTCOfficialProtocol', 'StandardProtocol', 'get_protocol',
    'nanmean_results'
]
