class Cnn(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  _is_full_backward_hook : Optional[bool]
  conv : __torch__.torch.nn.modules.conv.Conv2d
  bn : __torch__.torch.nn.modules.batchnorm.BatchNorm2d
  dw : __torch__.torch.nn.modules.conv.___torch_mangle_0.Conv2d
  bn2 : __torch__.torch.nn.modules.batchnorm.___torch_mangle_1.BatchNorm2d
  fc : __torch__.torch.nn.modules.linear.Linear
  def forward(self: __torch__.Cnn,
    x: Tensor) -> Tuple[Tensor, Tensor]:
    fc = self.fc
    bn2 = self.bn2
    dw = self.dw
    bn = self.bn
    conv = self.conv
    input = torch.relu((bn).forward((conv).forward(x, ), ))
    input0 = torch.max_pool2d(input, [2, 2], annotate(List[int], []), [0, 0], [1, 1])
    _0 = (bn2).forward((dw).forward(input0, ), )
    input1 = torch.hardtanh(_0, 0., 6.)
    _1 = torch.adaptive_avg_pool2d(input1, [1, 1])
    a = torch.flatten(_1, 1)
    b = torch.mean(input1, [2, 3])
    input2 = torch.cat([a, b], 1)
    _2 = (fc).forward(input2, )
    _3 = torch.softmax(_2, -1)
    _4 = torch.slice(_2, 0, 0, 9223372036854775807)
    _5 = torch.mul(torch.slice(_4, 1, 1, 4), CONSTANTS.c0)
    return (_3, torch.sub(_5, CONSTANTS.c1))
