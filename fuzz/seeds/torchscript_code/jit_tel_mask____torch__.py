class TelMask(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  _is_full_backward_hook : Optional[bool]
  tel : __torch__.torch.nn.modules.transformer.TransformerEncoderLayer
  def forward(self: __torch__.TelMask,
    src: Tensor,
    pad: Tensor) -> Tensor:
    tel = self.tel
    return (tel).forward(pad, src, )
