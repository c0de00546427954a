"""The stacked engine: every member (variant × split) of one architecture trained as one Keras model.

One `model.fit` costs the same framework overhead whether it trains one small network or fifty,
so members that share an architecture are stacked (weights with a leading member axis) and
trained together. What keeps them independent, exactly as if each were trained alone:
- each member's loss is the mean over its own batch of its own split's rows, in its own order;
  the objective is the *sum* of member losses, so each member gets its own gradient;
- Adam (and the other supported optimizers) keep per-weight state, so members don't interact;
  members grouped together take the same number of steps per epoch (a short last batch is
  padded and masked), so the step count the optimizer sees is each member's own;
- penalties, dropout rates and weight decay are per member;
- early stopping is per member, with `keras.callbacks.EarlyStopping(restore_best_weights=True)`
  semantics; nothing global (clipping by norm, schedules, stopping) sees all members.
After training, every member is scored from one inference pass of the stacked model with its
chosen weights (the same outputs its own Keras model gives, to float32 rounding; tested), and
its weights go into the experiment's own Keras model, which is stored and analysed as with the
keras engine.

Its seams, one module each, each importing only those after it:
- `engine`: the trainer; which jobs stack, grouped and cut into stacked models;
- `training`: one stacked model trained: built from the members' own models, fed their batch
  orders, driven call after call, compacted when members stop, members' outcomes handed back;
- `loop`: the compiled epoch loop;
- `layers`: the stacked Keras layers and model; `stopping`: early stopping per member;
- `reading`: what of a member's Keras model and optimizer can stack, and its description.
"""
from .engine import MAX_MEMBERS, StackedEngine
from .reading import MemberSpec, Unsupported, describe_model, describe_optimizer
from .training import Member, Stage, member_order, train_members

__all__ = ["MAX_MEMBERS", "Member", "MemberSpec", "Stage", "StackedEngine", "Unsupported", "describe_model",
           "describe_optimizer", "member_order", "train_members"]
