class Scripted(Module):
  __parameters__ = ["bias", ]
  __buffers__ = []
  bias : Tensor
  training : bool
  _is_full_backward_hook : NoneType
  use_bias : bool
  layers : __torch__.torch.nn.modules.container.ModuleList
  def forward(self: __torch__.Scripted,
    x: Tensor) -> Tensor:
    layers = self.layers
    _0 = getattr(layers, "0")
    _1 = getattr(layers, "1")
    _2 = getattr(layers, "2")
    x0 = torch.tanh((_0).forward(x, ))
    x1 = torch.tanh((_1).forward(x0, ))
    x2 = torch.tanh((_2).forward(x1, ))
    use_bias = self.use_bias
    if use_bias:
      bias = self.bias
      x3 = torch.add(x2, bias)
    else:
      bias0 = self.bias
      x3 = torch.sub(x2, bias0)
    return x3
