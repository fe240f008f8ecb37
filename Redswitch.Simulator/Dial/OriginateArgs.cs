namespace Redswitch.Simulator.Dial;

/// <summary>The parsed arguments of the <c>originate</c> API (mod_commands.c originate_function, esl-protocol.md §6.1).</summary>
public sealed record OriginateArgs(
    string CallUrl,
    DialPlanTarget Target,
    string? AppName,
    string? AppArgs,
    string? Exten,
    string Dialplan,
    string Context,
    string? CidName,
    string? CidNumber,
    int TimeoutSeconds)
{
    public const string Usage =
        "-USAGE: <call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout_sec>]\n";

    /// <summary>Parses the argument text; returns null when FS would answer with the usage text.</summary>
    public static OriginateArgs? Parse(string? arguments)
    {
        if (string.IsNullOrEmpty(arguments)) return null;
        var tokens = ArgSplitter.SplitBlank(arguments);
        if (tokens.Count < 2 || tokens.Count > 7) return null;
        string? Tok(int i) => i < tokens.Count && tokens[i] != "undef" ? tokens[i] : null;
        var url = tokens[0];
        var second = tokens[1];
        string? app = null, appArgs = null, exten = null;
        if (second.StartsWith('&'))
        {
            app = second[1..];
            var p = app.IndexOf('(');
            if (p >= 0)
            {
                var rest = app[(p + 1)..];
                app = app[..p];
                var e = rest.IndexOf(')');
                appArgs = e >= 0 ? rest[..e] : rest;
            }
            if (app.Length == 0) return null;
        }
        else exten = second;
        int timeout = 60;
        if (Tok(6) is { } t && int.TryParse(t, out var tv) && tv > 0) timeout = tv;
        return new OriginateArgs(url, DialString.Parse(url), app, appArgs, exten,
            Tok(2) ?? "XML", Tok(3) ?? "default", Tok(4), Tok(5), timeout);
    }
}
