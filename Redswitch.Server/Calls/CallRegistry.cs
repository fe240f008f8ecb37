using System.Collections.Concurrent;

namespace Redswitch.Server.Calls;

/// <summary>The calls this instance owns, by dial_id and by the uuids of their legs.</summary>
public sealed class CallRegistry
{
    private readonly ConcurrentDictionary<string, CallOwner> _byDialId = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, CallOwner> _byUuid = new(StringComparer.OrdinalIgnoreCase);
    private int _live;

    public int Count => _byDialId.Count;

    /// <summary>Calls not yet ended (legs still up).</summary>
    public int Live => Volatile.Read(ref _live);

    public bool TryAdd(CallOwner owner)
    {
        if (!_byDialId.TryAdd(owner.DialId, owner)) return false;
        Interlocked.Increment(ref _live);
        return true;
    }

    public void MarkEnded() => Interlocked.Decrement(ref _live);

    public void Remove(CallOwner owner) => _byDialId.TryRemove(new KeyValuePair<string, CallOwner>(owner.DialId, owner));

    public bool Contains(string dialId) => _byDialId.ContainsKey(dialId);

    public CallOwner? ByDialId(string dialId) => _byDialId.TryGetValue(dialId, out var o) ? o : null;

    public void AddUuid(string uuid, CallOwner owner) => _byUuid[uuid] = owner;

    public void RemoveUuid(string uuid) => _byUuid.TryRemove(uuid, out _);

    public CallOwner? ByUuid(string? uuid) => uuid is not null && _byUuid.TryGetValue(uuid, out var o) ? o : null;

    public IEnumerable<CallOwner> All => _byDialId.Values;
}
