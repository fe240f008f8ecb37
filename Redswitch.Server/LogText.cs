namespace Redswitch.Server;

/// <summary>Text for log lines.</summary>
internal static class LogText
{
    /// <summary>The first line of a client library's message: the rest is advice for its own developers.</summary>
    public static string FirstLine(string s)
    {
        var i = s.IndexOfAny(['\r', '\n']);
        return i < 0 ? s : s[..i];
    }
}
