class LayerNorm(Module):
  __parameters__ = ["weight", "bias", ]
  __buffers__ = []
  weight : Tensor
  bias : Tensor
  training : bool
  _is_full_backward_hook : Optional[bool]
  def forward(self: __torch__.torch.nn.modules.normalization.LayerNorm,
    argument_1: Tensor) -> Tensor:
    bias = self.bias
    weight = self.weight
    x = torch.layer_norm(argument_1, [16], weight, bias)
    return x
