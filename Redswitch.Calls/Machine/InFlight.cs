using System.Diagnostics.CodeAnalysis;

namespace Redswitch.Calls;

/// <summary>
/// What is in flight, by correlation. A call has a handful at a time, so a list: a dictionary's buckets and
/// entries, kept for the whole call, cost more memory per live call than the lookups they save.
/// </summary>
internal sealed class InFlight<T>
{
    private readonly List<(long Id, T Value)> _items = [];

    public int Count => _items.Count;

    public void Add(long id, T value) => _items.Add((id, value));

    public bool Remove(long id) => Remove(id, out _);

    public bool Remove(long id, [MaybeNullWhen(false)] out T value)
    {
        for (var i = 0; i < _items.Count; i++)
        {
            if (_items[i].Id != id) continue;
            value = _items[i].Value;
            _items.RemoveAt(i);
            return true;
        }
        value = default;
        return false;
    }

    public void Clear() => _items.Clear();
}
