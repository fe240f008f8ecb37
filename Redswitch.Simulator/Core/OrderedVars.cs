namespace Redswitch.Simulator.Core;

/// <summary>Channel variables in insertion order (FS serialises them in the order they were set).</summary>
public sealed class OrderedVars
{
    private readonly List<KeyValuePair<string, string>> _list = new();

    public int Count => _list.Count;
    public IReadOnlyList<KeyValuePair<string, string>> Items => _list;

    public string? Get(string name)
    {
        foreach (var kv in _list) if (kv.Key == name) return kv.Value;
        return null;
    }

    /// <summary>Sets a variable; an empty or null value unsets it (as FS does).</summary>
    public void Set(string name, string? value)
    {
        var i = _list.FindIndex(kv => kv.Key == name);
        if (string.IsNullOrEmpty(value))
        {
            if (i >= 0) _list.RemoveAt(i);
            return;
        }
        if (i >= 0) _list[i] = new(name, value);
        else _list.Add(new(name, value));
    }

    public void Remove(string name) => Set(name, null);
}
