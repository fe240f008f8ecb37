using System.Diagnostics.CodeAnalysis;

namespace Redswitch.Calls;

/// <summary>
/// What is in flight, by correlation. A call has a handful at a time and mostly none while it talks, so a list
/// that exists only while something is in flight: a dictionary's buckets, kept for the whole call, cost more
/// memory per live call than the lookups they save.
/// </summary>
internal sealed class InFlight<T>
{
    private List<(long Id, T Value)>? _items;

    public int Count => _items?.Count ?? 0;

    public void Add(long id, T value) => (_items ??= new(2)).Add((id, value));

    public bool Remove(long id) => Remove(id, out _);

    public bool Remove(long id, [MaybeNullWhen(false)] out T value)
    {
        for (var i = 0; _items is not null && i < _items.Count; i++)
        {
            if (_items[i].Id != id) continue;
            value = _items[i].Value;
            _items.RemoveAt(i);
            if (_items.Count == 0) _items = null;
            return true;
        }
        value = default;
        return false;
    }

    public void Clear() => _items = null;

    public bool All(Func<T, bool> predicate)
    {
        foreach (var (_, value) in _items ?? []) if (!predicate(value)) return false;
        return true;
    }
}
