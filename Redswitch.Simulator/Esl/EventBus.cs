using Redswitch.Simulator.Core;

namespace Redswitch.Simulator.Esl;

/// <summary>
/// Fans events out to sessions. Sessions whose delivery is narrowed by literal positive filters or by
/// <c>myevents</c> are indexed by (header, value) so that 10,000 outbound sockets do not each look at every event.
/// Core thread only.
/// </summary>
internal sealed class EventBus
{
    private readonly HashSet<EslSession> _global = new();
    private readonly Dictionary<string, HashSet<EslSession>> _index = new(StringComparer.Ordinal);
    private readonly Dictionary<EslSession, List<(string Header, string Key)>> _keys = new();
    private readonly Dictionary<string, int> _headers = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<EslSession> _scratch = new();
    private readonly HashSet<EslSession> _seen = new();

    public void Update(EslSession s)
    {
        Remove(s);
        if (s.Closed || !s.EventsEnabled) return;
        List<(string Header, string Value)>? keys;
        if (s.MyEventsUuid != null)
            keys = [("Unique-ID", s.MyEventsUuid), ("Job-Owner-UUID", s.MyEventsUuid)];
        else if (s.Filters.Count > 0)
            keys = s.Filters.LiteralPositives();
        else keys = null;
        if (keys == null) { _global.Add(s); return; }
        var list = new List<(string, string)>();
        foreach (var (h, v) in keys)
        {
            var key = h.ToLowerInvariant() + "\n" + v.ToLowerInvariant();
            if (!_index.TryGetValue(key, out var set)) _index[key] = set = new HashSet<EslSession>();
            if (set.Add(s))
            {
                list.Add((h, key));
                _headers[h] = _headers.TryGetValue(h, out var c) ? c + 1 : 1;
            }
        }
        _keys[s] = list;
    }

    public void Remove(EslSession s)
    {
        _global.Remove(s);
        if (_keys.Remove(s, out var list))
        {
            foreach (var (h, key) in list)
            {
                if (_index.TryGetValue(key, out var set))
                {
                    set.Remove(s);
                    if (set.Count == 0) _index.Remove(key);
                }
                if (_headers.TryGetValue(h, out var c))
                {
                    if (c <= 1) _headers.Remove(h); else _headers[h] = c - 1;
                }
            }
        }
    }

    /// <summary>
    /// Cheap pre-check before an event is built: false only when no session can receive an event of this name for
    /// this channel (then the switch skips building it). Conservative: true whenever unsure.
    /// </summary>
    public bool MightWant(string name, string? uniqueId)
    {
        foreach (var s in _global)
            if (s.AllEvents || s.EventNamesSubscribed.Contains(name)) return true;
        if (_keys.Count == 0) return false;
        foreach (var h in _headers.Keys)
            if (!h.Equals("Unique-ID", StringComparison.OrdinalIgnoreCase) && !h.Equals("Job-Owner-UUID", StringComparison.OrdinalIgnoreCase))
                return true;
        if (uniqueId == null) return _headers.ContainsKey("Job-Owner-UUID");
        if (_index.TryGetValue("unique-id\n" + uniqueId.ToLowerInvariant(), out var set))
            foreach (var s in set)
                if (s.AllEvents || s.EventNamesSubscribed.Contains(name)) return true;
        return false;
    }

    public void Publish(SimEvent ev)
    {
        _scratch.Clear();
        _seen.Clear();
        foreach (var s in _global) _scratch.Add(s);
        foreach (var h in _headers.Keys)
        {
            var v = ev.Get(h);
            if (v == null) continue;
            if (_index.TryGetValue(h.ToLowerInvariant() + "\n" + v.ToLowerInvariant(), out var set))
                foreach (var s in set)
                    if (!_global.Contains(s) && _seen.Add(s)) _scratch.Add(s);
        }
        var targets = _scratch.ToArray();
        foreach (var s in targets) s.Deliver(ev);
    }
}
