namespace Redswitch.Calls.Jobs;

/// <summary>SPEC §6: what a value from Redis must look like before it may reach an ESL command.</summary>
public static class FieldRules
{
    /// <summary>Optional '+', then 3-20 digits; or a SIP URI user@host[:port] from [A-Za-z0-9._+-].</summary>
    public static bool IsPhoneNumber(string? s)
    {
        if (string.IsNullOrEmpty(s) || s.Length > 256) return false;
        var at = s.IndexOf('@');
        if (at < 0)
        {
            var start = s[0] == '+' ? 1 : 0;
            var digits = s.Length - start;
            if (digits < 3 || digits > 20) return false;
            for (var i = start; i < s.Length; i++) if (!char.IsAsciiDigit(s[i])) return false;
            return true;
        }
        if (at == 0 || s.IndexOf('@', at + 1) >= 0) return false;
        var user = s.AsSpan(0, at);
        var host = s.AsSpan(at + 1);
        var colon = host.IndexOf(':');
        if (colon >= 0)
        {
            var port = host[(colon + 1)..];
            host = host[..colon];
            if (port.Length is < 1 or > 5) return false;
            foreach (var ch in port) if (!char.IsAsciiDigit(ch)) return false;
        }
        return IsUriPart(user) && IsUriPart(host);
    }

    public static bool IsSipUri(string s) => s.Contains('@');

    private static bool IsUriPart(ReadOnlySpan<char> s)
    {
        if (s.Length == 0) return false;
        foreach (var ch in s)
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '.' or '_' or '+' or '-')) return false;
        return true;
    }

    /// <summary>'+', digits and '-', 1-32 characters.</summary>
    public static bool IsCallerId(string? s)
    {
        if (string.IsNullOrEmpty(s) || s.Length > 32) return false;
        var anyDigit = false;
        foreach (var ch in s)
        {
            if (char.IsAsciiDigit(ch)) anyDigit = true;
            else if (ch is not ('+' or '-')) return false;
        }
        return anyDigit;
    }

    /// <summary>dial_id, org_id, user_id: 1-128 of [A-Za-z0-9_:-].</summary>
    public static bool IsId(string? s) => IsToken(s, allowDot: false);

    /// <summary>call_provider: 1-128 of [A-Za-z0-9_:.-].</summary>
    public static bool IsProvider(string? s) => IsToken(s, allowDot: true);

    private static bool IsToken(string? s, bool allowDot)
    {
        if (string.IsNullOrEmpty(s) || s.Length > 128) return false;
        foreach (var ch in s)
            if (!(char.IsAsciiLetterOrDigit(ch) || ch is '_' or ':' or '-' || (allowDot && ch == '.'))) return false;
        return true;
    }

    /// <summary>Masks all but the last four digits of a number unless full logging is on.</summary>
    public static string Mask(string? number, bool full)
    {
        if (number is null) return "";
        if (full || number.Length <= 4) return number;
        return new string('*', number.Length - 4) + number[^4..];
    }
}
