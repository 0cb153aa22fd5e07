"""Symbolic sizes: the ops' own shape rules run on sympy expressions in named input sizes.

``archdsl.symbolic_report("unet", input="1xHxW")`` gives every layer's output shape as a formula in H
and W, the sizes for which the network is well formed (every rule's check passes), and the
sizes for which every strided window tiles its input and every centre crop is symmetric::

    >>> import archdsl
    >>> r = archdsl.symbolic_report("conv3-8 - maxpool - conv(8, k=3, p=0)", input="3xHxW")
    >>> r.outputs["output"]
    (8, floor(H/2) - 2, floor(W/2) - 2)
    >>> r.valid
    (H >= 6) & (W >= 6)
    >>> r.exact_outputs["output"]
    (8, H/2 - 2, W/2 - 2)

How: there is no second set of shape formulas here. A size that depends on a name is a
:class:`Dim`, a sympy expression that the rules of ``archdsl/ops`` compute with as they do with
ints (``(n + 2*p - k) // s + 1`` gives ``floor(...)``). A comparison of sizes (``n < 1``, a crop
larger than its map, two branches that disagree) gives a :class:`Cond`; when a rule asks its
truth, it is decided exactly for every positive integer value (:func:`truth_set`: writing
``H = M*q + r`` for each residue ``r`` modulo the strides' product ``M`` turns every floor into a
linear function of ``q``). When the answer depends on the size the rule is run again for each
answer (a fork), so each run has a region of sizes where it holds: a run that raises marks its
region invalid, a run that returns gives the shape there. Every floor division by a constant
(``//`` in a rule) is recorded; it is exact where the numerator is a multiple of the divisor.

Sets of sizes are eventually periodic (:class:`SizeSet`) and are shown as congruences and
bounds (``H ≡ 12 (mod 16), H >= 188``) or as sympy booleans (``SizeSet.to_sympy``).

Modules: ``relations`` (deciding a relation for every size), ``dim`` (Dim, Cond, regions, forks), ``show``
(formulas as text), ``walk`` (the walk over a network: ``symbolic_shapes``). The text of the report is
:mod:`archdsl.views.formulas`. Nothing here is imported with the package: sympy loads only when a
symbolic size is asked for.
"""

from __future__ import annotations
