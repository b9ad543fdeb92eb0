"""A first-in first-out queue as a list read from a head index (pure): compiled code calls its
methods directly, where a deque's are looked up by name at every call. The entries passed are
dropped once they are many and most of the list."""

from __future__ import annotations

from typing import Final, Generic, TypeVar

PASSED_KEPT: Final = 64  # entries passed that the list keeps before it drops them

T = TypeVar("T")


class Fifo(Generic[T]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self.head = 0

    def waiting(self) -> int:
        return len(self.items) - self.head

    def append(self, item: T) -> None:
        self.items.append(item)

    def popleft(self) -> T:
        """The oldest item, taken off (an IndexError when there is none)."""
        items, head = self.items, self.head
        item = items[head]
        head += 1
        if head >= PASSED_KEPT and 2 * head >= len(items):
            del items[:head]
            head = 0
        self.head = head
        return item

    def remove(self, item: T) -> None:
        """Take `item` out, wherever it waits (a ValueError when it does not)."""
        items = self.items
        del items[items.index(item, self.head)]

    def oldest_first(self) -> list[T]:
        return self.items[self.head :]
