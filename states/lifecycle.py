"""The engine every lifecycle shares: a lifecycle is data (states, actions, transitions with
named guards, the roles allowed each action) handed to `Lifecycle`, which answers "may this
actor do this now, and where does it lead" on one shared `transitions` Machine.

Guards come in two kinds:
- permission guards (`is_owner`, `is_co_manager`, ...) decide whether the action is available
  to this actor now; they take no arguments and give `available_actions`;
- routing guards read the action's arguments and choose among the transitions of one action.
  Without arguments they answer True, so the availability check asks only "could some branch
  be taken".
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from transitions import Machine
from transitions.extensions import GraphMachine

from states.common import SEAT_COUNTRIES, ActionNotAvailable, Actor, NotPermitted, Role, UnknownAction


class Subject:
    """The machine's model for one decision: the facts, the actor, and a mutable `state`.
    Each lifecycle subclasses it with its guards as methods."""

    __slots__ = ("state", "facts", "actor")

    def __init__(self, facts: Any, actor: Actor):
        self.state = facts.state.value
        self.facts = facts
        self.actor = actor

    # Guards every lifecycle has: `facts.member_state` is the owning (nominating) member state.
    def is_owner(self, **_):
        a = self.actor
        return a.role is Role.MEMBER_STATE and a.member_state == self.facts.member_state

    def is_co_manager(self, **_):
        a = self.actor
        return a.system or (a.role is Role.CO_MANAGER and a.country in SEAT_COUNTRIES)

    def is_co_chair(self, **_):
        return self.actor.role is Role.CO_CHAIR and self.actor.country in SEAT_COUNTRIES


@dataclass(frozen=True)
class Outcome:
    action: StrEnum
    from_state: StrEnum
    to_state: StrEnum

    @property
    def changed(self) -> bool:
        return self.from_state is not self.to_state


def _value(x):
    return x.value if isinstance(x, StrEnum) else x


def _plain(t: dict) -> dict:
    """transitions names Enum members by `.name`: hand it the plain values."""
    src = [_value(x) for x in t["source"]] if isinstance(t["source"], list) else _value(t["source"])
    return {**t, "trigger": _value(t["trigger"]), "source": src, "dest": _value(t["dest"])}


class _Marker:
    """A throwaway model: GraphMachine marks the state of the model it draws."""


class Lifecycle:
    def __init__(self, *, title: str, noun: str, states: type[StrEnum], actions: type[StrEnum],
                 final: frozenset, transitions: list[dict], action_roles: dict[StrEnum, frozenset[Role]],
                 subject: type[Subject], routing_guards: frozenset[str] = frozenset(),
                 routing_arguments: dict[StrEnum, tuple[str, type[StrEnum]]] | None = None,
                 reason: Callable[[Any, Actor, StrEnum], str | None] = lambda f, a, x: None,
                 system_actions: frozenset = frozenset(), owner_attaches: frozenset = frozenset(),
                 main_path: tuple[tuple[str, tuple], ...] = ()):
        # The main path, as steps people name (each step: the states that are "at" it), for a
        # progress line; the states off it (returned, withdrawn) are at the step they belong to.
        self.main_path = tuple((step, tuple(_value(s) for s in states_)) for step, states_ in main_path)
        # The states in which the owning member state may attach documents (`states.conversation`).
        self.owner_attaches = frozenset(_value(s) for s in owner_attaches)
        self.noun, self.states, self.actions, self.final = noun, states, actions, final
        self.transitions, self.action_roles, self.subject = transitions, action_roles, subject
        self.routing_guards, self.routing_arguments = routing_guards, routing_arguments or {}
        self._reason = reason
        self.system_actions = frozenset(system_actions)  # what the system may take by itself
        plain = [_plain(t) for t in transitions]
        initial = next(iter(states)).value
        common = dict(states=[s.value for s in states], transitions=plain, initial=initial, auto_transitions=False)
        self.machine = Machine(model=None, send_event=False, **common)
        # Asked for every item of every list: which transitions leave each state, in
        # lifecycle order, and the guards that decide them (routing guards need arguments).
        self._leaving: dict[str, list[tuple[dict, tuple[str, ...]]]] = {s.value: [] for s in states}
        for t in transitions:
            gates = tuple(g for g in t["conditions"] if g not in self.routing_guards)
            for source in self._sources(t):
                self._leaving[source].append((t, gates))
        self._diagram = GraphMachine(model=None, graph_engine="mermaid", show_conditions=False, title=title, **common)

    def _sources(self, t: dict) -> list[str]:
        return [_value(s) for s in t["source"]] if isinstance(t["source"], list) else [_value(t["source"])]

    def _open(self, facts, subject: Subject, t: dict) -> bool:
        return any(t is u and all(getattr(subject, g)() for g in gates)
                   for u, gates in self._leaving[facts.state.value])

    def available_actions(self, facts, actor: Actor) -> list[str]:
        """The actions this actor may take now, in lifecycle order."""
        subject = self.subject(facts, actor)
        found: list[str] = []
        for t, gates in self._leaving[facts.state.value]:
            name = t["trigger"].value
            if name not in found and all(getattr(subject, g)() for g in gates):
                found.append(name)
        return found

    def check(self, facts, actor: Actor, action: str) -> StrEnum:
        """Whether `actor` may take `action` now, whatever its arguments. Raises UnknownAction
        (no such action), NotPermitted (never for this role) or ActionNotAvailable (not now)."""
        try:
            act = self.actions(action)
        except ValueError:
            raise UnknownAction(action, [a.value for a in self.actions]) from None
        if actor.system and act not in self.system_actions:
            raise NotPermitted(act.value, "system")
        if actor.role not in self.action_roles[act]:
            raise NotPermitted(act.value, actor.role.value)
        subject = self.subject(facts, actor)
        if not any(self._open(facts, subject, t) for t in self.transitions if t["trigger"] is act):
            raise ActionNotAvailable(act.value, facts.state.value, self.available_actions(facts, actor),
                                     self._why_not(facts, actor, act))
        return act

    def outcome(self, facts, actor: Actor, act: StrEnum, **arguments) -> Outcome:
        """Where `act`, already `check`ed for this actor and these facts, leads with these
        arguments. An action with branches needs its routing argument: ValueError without it."""
        if act in self.routing_arguments:
            name, values = self.routing_arguments[act]
            if arguments.get(name) not in {v.value for v in values}:
                raise ValueError(f"'{act.value}' needs {name}: one of {', '.join(v.value for v in values)}")
        subject = self.subject(facts, actor)
        if not self.machine.events[act.value].trigger(subject, **arguments):
            raise ActionNotAvailable(act.value, facts.state.value, self.available_actions(facts, actor),
                                     self._why_not(facts, actor, act))
        return Outcome(act, facts.state, self.states(subject.state))

    def decide(self, facts, actor: Actor, action: str, **arguments) -> Outcome:
        """Where `action` by `actor` leads from `facts`, or why it is refused (see `check`)."""
        return self.outcome(facts, actor, self.check(facts, actor, action), **arguments)

    def choices(self, facts, actor: Actor, action: str) -> dict[str, list[str]]:
        """For an action with branches, the values of its routing argument that lead somewhere
        now (e.g. the checklist items still open): what a form should offer."""
        act = self.actions(action)
        if act not in self.routing_arguments:
            return {}
        name, values = self.routing_arguments[act]
        subject = self.subject(facts, actor)
        wanted = [t for t in self.transitions if t["trigger"] is act and self._open(facts, subject, t)]
        return {name: [v.value for v in values
                       if any(all(getattr(subject, g)(**{name: v.value}) for g in t["conditions"]) for t in wanted)]}

    def _why_not(self, facts, actor: Actor, action: StrEnum) -> str:
        if facts.state in self.final:
            return f"the {self.noun} is {facts.state.value}: a final state accepts no action"
        if not any(facts.state.value in self._sources(t) for t in self.transitions if t["trigger"] is action):
            return f"'{action.value}' is not available while the {self.noun} is in '{facts.state.value}'"
        return self._reason(facts, actor, action) or f"'{action.value}' is not available to you on this {self.noun} now"

    def progress(self, current: StrEnum | str, visited: set[str]) -> list[tuple[str, str]]:
        """Each step of the main path with where the item stands: `done` (passed), `skipped`
        (passed by without entering it), `current`, or `todo`."""
        current = _value(current)
        at = next((i for i, (_, states_) in enumerate(self.main_path) if current in states_), 0)
        out = []
        for i, (step, states_) in enumerate(self.main_path):
            if i == at:
                out.append((step, "current"))
            elif i < at:
                out.append((step, "done" if visited & set(states_) else "skipped"))
            else:
                out.append((step, "todo"))
        return out

    def diagram(self, current: StrEnum | str) -> str:
        """The lifecycle as Mermaid text with the current state marked."""
        marker = _Marker()
        self._diagram.add_model(marker)
        try:
            marker.state = self.states(current).value
            text = marker.get_graph(force_new=True).draw(None)
        finally:
            self._diagram.remove_model(marker)
        # transitions writes "Class x style"; Mermaid's keyword is lower-case.
        return text.replace("\n  Class ", "\n  class ")
