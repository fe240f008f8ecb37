using System.Globalization;

namespace Redswitch.Server.Cli;

/// <summary>Lines for the operator: results on stdout, the one error line on stderr.</summary>
internal static class CliOutput
{
    public static string Now() => DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);

    /// <summary>A channel message as watch prints it: a timestamp, then the message as published.</summary>
    public static void Message(string text) => Console.Out.WriteLine(Now() + " " + text);

    public static void Note(string text) => Console.Error.WriteLine(text);

    public static string Age(TimeSpan t) =>
        t.TotalSeconds < 60 ? $"{(int)t.TotalSeconds}s"
        : t.TotalMinutes < 60 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s"
        : $"{(int)t.TotalHours}h{t.Minutes:00}m";
}
