using System.Text.RegularExpressions;
using Redswitch.Simulator.Core;

namespace Redswitch.Simulator.Esl;

/// <summary>Event delivery filters with FreeSWITCH's exact semantics (esl-protocol.md §2.4).</summary>
public sealed class FilterSet
{
    private readonly List<(string Header, string Value)> _filters = new();

    public int Count => _filters.Count;
    public IReadOnlyList<(string Header, string Value)> Items => _filters;

    public void Add(string header, string value) => _filters.Add((header, value));

    public void Clear() => _filters.Clear();

    /// <summary>Deletes the filters on <paramref name="header"/> (only those with <paramref name="value"/> when given).</summary>
    public void Delete(string header, string? value) =>
        _filters.RemoveAll(f => string.Equals(f.Header, header, StringComparison.OrdinalIgnoreCase)
                                && (value == null || f.Value == value));

    /// <summary>True when the event passes (always true when there is no filter).</summary>
    public bool Passes(Func<string, string?> header)
    {
        if (_filters.Count == 0) return true;
        bool send = false;
        foreach (var (name, raw) in _filters)
        {
            var hv = header(name);
            if (hv == null) continue;
            int i = 0;
            bool positive = true;
            while (i < raw.Length && (raw[i] == '+' || raw[i] == '-' || raw[i] == ' '))
            {
                if (raw[i] == '+') positive = true;
                else if (raw[i] == '-') positive = false;
                i++;
            }
            if (send && positive) continue;
            var value = raw[i..];
            bool match;
            if (raw.StartsWith('/'))
                match = RegexMatch(raw, hv);
            else
                match = string.Equals(hv, value, StringComparison.OrdinalIgnoreCase);
            if (match && positive) send = true;
            else if (match && !positive) { send = false; break; }
        }
        return send;
    }

    public bool Passes(SimEvent ev) => Passes(ev.Get);

    private static bool RegexMatch(string spec, string input)
    {
        // "/pattern/flags" as switch_regex_perform takes it; a spec without the closing slash is the whole pattern
        var body = spec[1..];
        var opts = RegexOptions.None;
        var last = body.LastIndexOf('/');
        string pattern;
        if (last >= 0)
        {
            pattern = body[..last];
            foreach (var c in body[(last + 1)..])
                if (c == 'i') opts |= RegexOptions.IgnoreCase;
        }
        else pattern = body;
        try { return Regex.IsMatch(input, pattern, opts, TimeSpan.FromMilliseconds(100)); }
        catch (ArgumentException) { return false; }
        catch (RegexMatchTimeoutException) { return false; }
    }

    /// <summary>The literal positive filters (header, value), or null when some filter is a regex (the session must see everything).</summary>
    internal List<(string Header, string Value)>? LiteralPositives()
    {
        var list = new List<(string, string)>();
        foreach (var (name, raw) in _filters)
        {
            if (raw.StartsWith('/')) return null;
            int i = 0; bool positive = true;
            while (i < raw.Length && (raw[i] == '+' || raw[i] == '-' || raw[i] == ' '))
            {
                positive = raw[i] == '+' || (raw[i] == ' ' && positive);
                i++;
            }
            if (positive) list.Add((name, raw[i..]));
        }
        return list;
    }
}
