"""A contrast matrix larger than one backward pass fits: cached micro-batches.

RPO's loss depends on the model only through per-sequence log-probs (and,
when they are learned, prompt embeddings): a few numbers per example. So a
batch too large to back-propagate at once can be processed as GradCache
(Gao et al. 2021) does for contrastive retrieval:

1. run the model on every micro-batch without autograd, keeping only those
   numbers;
2. call librpo once on their concatenation: the loss over the whole
   contrast matrix, and its gradient with respect to every number;
3. run each micro-batch again with autograd and back-propagate its slice of
   that gradient.

Peak memory is then one micro-batch's activations (plus the numbers),
whatever the batch. Dropout and other random layers see the same random
numbers in both runs of a micro-batch: the CPU and CUDA generator states
before each micro-batch's first run are restored for its second.

    from rpo.torch import RPOLoss, cached_backward
    loss_fn = RPOLoss(weighting="embedding")
    def compute(batch):                      # model-dependent forward args
        return (policy_logps(batch.chosen), policy_logps(batch.rejected),
                batch.ref_chosen, batch.ref_rejected, batch.prompt_emb)
    loss, metrics = cached_backward(loss_fn, compute, micro_batches)
    optimizer.step()
"""

import torch


def _rng_state():
    """The generators a forward may draw from: CPU, and every CUDA device
    once CUDA is in use."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
    return torch.get_rng_state(), cuda


def _as_call(out):
    """compute's result as (positional args, keyword args)."""
    if isinstance(out, dict):
        return [], dict(out)
    if isinstance(out, (tuple, list)):
        return list(out), {}
    raise TypeError("compute must return a tuple or list of the loss's "
                    "positional arguments, or a dict of keyword arguments, "
                    "not %s" % type(out).__name__)


def _values(args, kwargs):
    """Every argument as (key, value): positions, then names."""
    return list(enumerate(args)) + sorted(kwargs.items())


def _concatenate(parts, wants_grad):
    """One argument over all micro-batches: None stays None, tensors are
    concatenated along dim 0 (a detached leaf that collects the loss's
    gradient when wants_grad), anything else must be the same each time."""
    first = parts[0]
    if first is None or not isinstance(first, torch.Tensor):
        if any(p is not first and p != first for p in parts[1:]):
            raise ValueError("a non-tensor argument differs between micro-batches")
        return first
    whole = torch.cat([p.detach() for p in parts], dim=0)
    return whole.requires_grad_(True) if wants_grad else whole


def cached_backward(loss_fn, compute, micro_batches):
    """Back-propagates loss_fn over all micro-batches at once, holding one
    micro-batch's autograd graph at a time; returns (loss, metrics).

    loss_fn: an rpo.torch.RPOLoss or rpo.distributed.GlobalRPOLoss (any
    module whose forward takes per-example tensors, concatenated along dim
    0, and returns a scalar). compute(batch): the forward arguments of
    loss_fn for one micro-batch, a tuple (positional) or dict (keywords);
    the tensors that depend on the model must come out of it. Every
    micro-batch must give arguments of the same kind (the first one's
    tell which require gradients). micro_batches: any iterable; it is
    traversed once and kept.

    Afterwards each parameter's .grad holds (is increased by, as with
    backward()) the gradient of loss_fn on the concatenated arguments,
    computed by the same forwards (the same dropout masks) as running
    compute on each micro-batch in turn with autograd would give. The first
    micro-batch is run once, with autograd; the others twice, the second
    time from the random-number state of the first (CPU and CUDA). The
    loss is returned detached; metrics is loss_fn.metrics after its one
    call (for GlobalRPOLoss, that of the global batch)."""
    batches = list(micro_batches)
    if not batches:
        raise ValueError("cached_backward needs at least one micro-batch")

    # The first micro-batch keeps its graph: its outputs say which
    # arguments need gradients, and its backward needs no second run.
    first_args, first_kwargs = _as_call(compute(batches[0]))
    first = _values(first_args, first_kwargs)
    wants_grad = {key: isinstance(v, torch.Tensor) and v.requires_grad
                  for key, v in first}
    states, detached = [None], [[(k, v.detach() if isinstance(v, torch.Tensor)
                                  else v) for k, v in first]]
    with torch.no_grad():
        for batch in batches[1:]:
            states.append(_rng_state())
            args, kwargs = _as_call(compute(batch))
            detached.append(_values(args, kwargs))
    keys = [k for k, _ in first]
    for values in detached[1:]:
        if [k for k, _ in values] != keys:
            raise ValueError("compute returned other arguments for another "
                             "micro-batch")

    whole = {k: _concatenate([dict(v)[k] for v in detached], wants_grad[k])
             for k in keys}
    loss = loss_fn(*[whole[k] for k in range(len(first_args))],
                   **{k: whole[k] for k in first_kwargs})
    leaves = [k for k in keys if wants_grad[k]]
    grads = torch.autograd.grad(loss, [whole[k] for k in leaves],
                                allow_unused=True)
    metrics = dict(getattr(loss_fn, "metrics", {}))

    offsets = {k: 0 for k in leaves}
    for index, batch in enumerate(batches):
        if index == 0:
            values = first
        else:
            # From its first run's random state; the last one ends where
            # the first runs ended, so the stream continues as without us.
            _restore(states[index])
            args, kwargs = _as_call(compute(batch))
            values = _values(args, kwargs)
        outputs, output_grads = [], []
        for key, value in values:
            if key not in offsets:
                continue
            start, count = offsets[key], value.shape[0]
            offsets[key] = start + count
            grad = grads[leaves.index(key)]
            if grad is None or not value.requires_grad:
                continue
            outputs.append(value)
            output_grads.append(grad[start:start + count].to(value.dtype))
        if outputs:
            torch.autograd.backward(outputs, output_grads)
    return loss.detach(), metrics


def _restore(state):
    cpu, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)
