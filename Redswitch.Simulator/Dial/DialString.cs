using System.Text;

namespace Redswitch.Simulator.Dial;

/// <summary>One endpoint of a dial string, with the variables that apply to it (global first, then per-leg).</summary>
public sealed record DialLeg(
    string Endpoint,
    string Type,
    string Number,
    string? Gateway,
    IReadOnlyList<KeyValuePair<string, string>> Variables)
{
    public string? Var(string name)
    {
        string? v = null;
        foreach (var kv in Variables)
            if (string.Equals(kv.Key, name, StringComparison.Ordinal)) v = kv.Value;
        return v;
    }
}

/// <summary>A parsed dial string: groups tried one after another (<c>|</c>), legs in a group rung together (<c>,</c>).</summary>
public sealed record DialPlanTarget(IReadOnlyList<IReadOnlyList<DialLeg>> Groups)
{
    public IEnumerable<DialLeg> AllLegs => Groups.SelectMany(g => g);
}

/// <summary>
/// FreeSWITCH's dial-string grammar as far as the simulator needs it (esl-protocol.md §6):
/// <c>&lt;ultra&gt;{global}[leg]type/…/number,[leg]…|…</c>.
/// </summary>
public static class DialString
{
    /// <summary>Endpoint types the simulator accepts; anything else is CHAN_NOT_IMPLEMENTED.</summary>
    public static readonly IReadOnlySet<string> KnownTypes = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "sofia", "loopback", "user", "verto", "freetdm", "skinny", "rtmp", "portaudio", "null", "error", "group", "pickup",
    };

    /// <summary>Parses a dial string. Never throws: an empty endpoint list yields zero groups.</summary>
    public static DialPlanTarget Parse(string dial)
    {
        var s = dial.Trim();
        var globals = new List<KeyValuePair<string, string>>();
        // <ultra-global>
        if (s.StartsWith('<'))
        {
            var end = FindClose(s, 0, '<', '>');
            if (end > 0) { AddVars(globals, s[1..end]); s = s[(end + 1)..]; }
        }
        // one or more {global} blocks
        while (s.StartsWith('{'))
        {
            var end = FindClose(s, 0, '{', '}');
            if (end < 0) break;
            AddVars(globals, s[1..end]);
            s = s[(end + 1)..];
        }
        var groups = new List<IReadOnlyList<DialLeg>>();
        bool originationUuidUsed = false;
        foreach (var groupText in SplitTopLevel(s, '|'))
        {
            var legs = new List<DialLeg>();
            foreach (var legTextRaw in SplitTopLevel(groupText, ','))
            {
                var legText = legTextRaw.Trim();
                if (legText.Length == 0) continue;
                var vars = new List<KeyValuePair<string, string>>();
                foreach (var g in globals)
                {
                    if (g.Key == "origination_uuid" && originationUuidUsed) continue;
                    vars.Add(g);
                }
                while (legText.StartsWith('['))
                {
                    var end = FindClose(legText, 0, '[', ']');
                    if (end < 0) break;
                    AddVars(vars, legText[1..end]);
                    legText = legText[(end + 1)..];
                }
                // FS also accepts {…} right before an endpoint inside a bridge string
                while (legText.StartsWith('{'))
                {
                    var end = FindClose(legText, 0, '{', '}');
                    if (end < 0) break;
                    AddVars(vars, legText[1..end]);
                    legText = legText[(end + 1)..];
                }
                if (globals.Any(g => g.Key == "origination_uuid")) originationUuidUsed = true;
                legs.Add(MakeLeg(legText.Trim(), vars));
            }
            if (legs.Count > 0) groups.Add(legs);
        }
        return new DialPlanTarget(groups);
    }

    private static DialLeg MakeLeg(string endpoint, List<KeyValuePair<string, string>> vars)
    {
        var slash = endpoint.IndexOf('/');
        var type = slash < 0 ? endpoint : endpoint[..slash];
        string number;
        string? gateway = null;
        if (type.Equals("loopback", StringComparison.OrdinalIgnoreCase) && slash >= 0)
        {
            // loopback/<exten>[/<context>[/<dialplan>]]: the number is the extension
            var rest = endpoint[(slash + 1)..];
            var s2 = rest.IndexOf('/');
            number = s2 < 0 ? rest : rest[..s2];
        }
        else
        {
            var last = endpoint.LastIndexOf('/');
            number = last < 0 ? endpoint : endpoint[(last + 1)..];
        }
        var at = number.IndexOf('@');
        if (at >= 0) number = number[..at];
        var parts = endpoint.Split('/');
        if (parts.Length >= 4 && parts[0].Equals("sofia", StringComparison.OrdinalIgnoreCase)
            && parts[1].Equals("gateway", StringComparison.OrdinalIgnoreCase))
            gateway = parts[2];
        return new DialLeg(endpoint, type, number, gateway, vars);
    }

    /// <summary>Index of the bracket closing the one at <paramref name="start"/>, honouring backslash escapes and nesting.</summary>
    internal static int FindClose(string s, int start, char open, char close)
    {
        int depth = 0;
        for (int i = start; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '\\') { i++; continue; }
            if (c == open) depth++;
            else if (c == close && --depth == 0) return i;
        }
        return -1;
    }

    /// <summary>Splits at <paramref name="sep"/> outside brackets, quotes and backslash escapes (the escapes are kept).</summary>
    internal static List<string> SplitTopLevel(string s, char sep)
    {
        var parts = new List<string>();
        var sb = new StringBuilder();
        int depth = 0; bool quote = false;
        for (int i = 0; i < s.Length; i++)
        {
            var c = s[i];
            if (c == '\\' && i + 1 < s.Length) { sb.Append(c).Append(s[++i]); continue; }
            if (c == '\'') quote = !quote;
            else if (!quote && (c == '[' || c == '{' || c == '<')) depth++;
            else if (!quote && (c == ']' || c == '}' || c == '>') && depth > 0) depth--;
            else if (!quote && depth == 0 && c == sep) { parts.Add(sb.ToString()); sb.Clear(); continue; }
            sb.Append(c);
        }
        parts.Add(sb.ToString());
        return parts;
    }

    /// <summary>Parses <c>a=1,b=2</c> (switch_event_create_brackets): <c>\,</c> escapes, <c>^^X</c> delimiter, first <c>=</c> splits.</summary>
    public static List<KeyValuePair<string, string>> ParseVarList(string inner)
    {
        var list = new List<KeyValuePair<string, string>>();
        AddVars(list, inner);
        return list;
    }

    private static void AddVars(List<KeyValuePair<string, string>> into, string inner)
    {
        char delim = ',';
        if (inner.Length >= 3 && inner.StartsWith("^^", StringComparison.Ordinal))
        {
            delim = inner[2];
            inner = inner[3..];
        }
        var sb = new StringBuilder();
        var items = new List<string>();
        bool quote = false;
        for (int i = 0; i < inner.Length; i++)
        {
            var c = inner[i];
            if (c == '\\' && i + 1 < inner.Length && inner[i + 1] == delim) { sb.Append(delim); i++; continue; }
            if (c == '\'') { quote = !quote; sb.Append(c); continue; }
            if (c == delim && !quote) { items.Add(sb.ToString()); sb.Clear(); continue; }
            sb.Append(c);
        }
        items.Add(sb.ToString());
        foreach (var item in items)
        {
            var eq = item.IndexOf('=');
            if (eq <= 0) continue;
            var name = item[..eq].Trim();
            var value = item[(eq + 1)..];
            if (value.Length >= 2 && value[0] == '\'' && value[^1] == '\'') value = value[1..^1];
            if (name.Length == 0) continue;
            var idx = into.FindIndex(kv => kv.Key == name);
            if (idx >= 0) into[idx] = new(name, value);
            else into.Add(new(name, value));
        }
    }
}
