using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Redswitch.Server;
using Redswitch.Server.Calls;
using Redswitch.Server.Logging;

namespace Redswitch.Tests.Server;

/// <summary>LOG_FORMAT=json (SPEC §10): the line's fields, the call's dial_id wherever it comes from, exceptions; start-up lines.</summary>
public class JsonLogTests
{
    private static readonly DateTimeOffset At = new(2025, 3, 4, 5, 6, 7, 89, TimeSpan.FromHours(2));

    /// <summary>An ILogger that writes through the formatter, as the console logger does, into a string.</summary>
    private sealed class FormatterLogger(string category = "Redswitch.Calls") : ILogger
    {
        private readonly JsonLineFormatter _formatter = new(new FakeTimeProvider(At));
        private readonly LoggerExternalScopeProvider _scopes = new();
        private readonly StringWriter _out = new();

        public IReadOnlyList<string> Lines => _out.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        public JsonElement Last => JsonDocument.Parse(Lines[^1]).RootElement;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => _scopes.Push(state);
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _formatter.Write(new LogEntry<TState>(logLevel, category, eventId, state, exception, formatter), _scopes, _out);
    }

    private static string? DialIdOf(JsonElement line) => line.TryGetProperty("dial_id", out var d) ? d.GetString() : null;

    [Test]
    public void OneLineWithTimestampLevelCategoryAndTheRenderedMessage()
    {
        var log = new FormatterLogger("Redswitch.Esl");
        log.LogWarning("FreeSWITCH {Node}: silent for {Seconds:F0} s, reconnecting", "10.0.0.5:8021", 31.4);
        Assert.That(log.Lines, Has.Count.EqualTo(1));
        var line = log.Last;
        Assert.That(line.GetProperty("timestamp").GetString(), Is.EqualTo("2025-03-04T03:06:07.089Z"), "UTC, milliseconds");
        Assert.That(line.GetProperty("level").GetString(), Is.EqualTo("warn"));
        Assert.That(line.GetProperty("category").GetString(), Is.EqualTo("Redswitch.Esl"));
        Assert.That(line.GetProperty("message").GetString(), Is.EqualTo("FreeSWITCH 10.0.0.5:8021: silent for 31 s, reconnecting"));
        Assert.That(DialIdOf(line), Is.Null);
        // The arguments as fields, numbers as numbers; the template itself is not one.
        var fields = line.GetProperty("fields");
        Assert.That(fields.GetProperty("Node").GetString(), Is.EqualTo("10.0.0.5:8021"));
        Assert.That(fields.GetProperty("Seconds").GetDouble(), Is.EqualTo(31.4));
        Assert.That(fields.TryGetProperty("{OriginalFormat}", out _), Is.False);
        Assert.That(line.TryGetProperty("exception", out _), Is.False);
    }

    [TestCase(LogLevel.Trace, "trace")]
    [TestCase(LogLevel.Debug, "debug")]
    [TestCase(LogLevel.Information, "info")]
    [TestCase(LogLevel.Warning, "warn")]
    [TestCase(LogLevel.Error, "error")]
    [TestCase(LogLevel.Critical, "critical")]
    public void LevelNames(LogLevel level, string name)
    {
        var log = new FormatterLogger();
        log.Log(level, "x");
        Assert.That(log.Last.GetProperty("level").GetString(), Is.EqualTo(name));
    }

    [Test]
    public void DialIdFromTheCallsScopeIsATopLevelField()
    {
        var log = new FormatterLogger();
        using (log.BeginScope(new DialScope("dial-42")))
            log.LogInformation("call ended ({Result}): {Sides}", "connected", "side 0 answered");
        log.LogInformation("outside the scope");
        var lines = log.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(DialIdOf(lines[0]), Is.EqualTo("dial-42"));
        Assert.That(lines[0].GetProperty("message").GetString(), Is.EqualTo("call ended (connected): side 0 answered"));
        Assert.That(DialIdOf(lines[1]), Is.Null);
    }

    [TestCase("job refused ({Cause}) for dial_id {DialId}")]
    [TestCase("job refused ({Cause}) for dial_id {dial_id}")]
    [TestCase("job refused ({Cause}) for dial_id {dialId}")]
    public void DialIdFromAnArgumentIsATopLevelFieldAndNotRepeatedInFields(string template)
    {
        var log = new FormatterLogger();
#pragma warning disable CA2254 // the template is the test's parameter
        log.LogWarning(template, "expired", "dial-7");
#pragma warning restore CA2254
        var line = log.Last;
        Assert.That(DialIdOf(line), Is.EqualTo("dial-7"));
        Assert.That(line.GetProperty("message").GetString(), Is.EqualTo("job refused (expired) for dial_id dial-7"));
        Assert.That(line.GetProperty("fields").EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "Cause" }));
    }

    [Test]
    public void TheArgumentNamesTheCallBeforeAnyScopeAndTheInnermostScopeWins()
    {
        var log = new FormatterLogger();
        using (log.BeginScope(new DialScope("outer")))
        {
            using (log.BeginScope(new DialScope("inner")))
            {
                log.LogInformation("in both");
                log.LogInformation("claiming dial_id {DialId}", "named");
                log.LogInformation("no call known: dial_id {DialId}", (string?)null);
            }
            log.LogInformation("in the outer one");
        }
        var ids = log.Lines.Select(l => DialIdOf(JsonDocument.Parse(l).RootElement)).ToList();
        Assert.That(ids, Is.EqualTo(new[] { "inner", "named", "inner", "outer" }));
    }

    [Test]
    public void AScopeOfAnotherKindCarriesNoDialIdAndIsNotWritten()
    {
        var log = new FormatterLogger();
        using (log.BeginScope("a plain text scope"))
        using (log.BeginScope(new Dictionary<string, object?> { ["ConnectionId"] = "c1" }))
            log.LogInformation("x");
        Assert.That(log.Last.EnumerateObject().Select(p => p.Name), Is.EqualTo(new[] { "timestamp", "level", "category", "message" }));
    }

    [Test]
    public void AWarningsExceptionHasTypeAndMessageAnErrorsAlsoItsStack()
    {
        var log = new FormatterLogger();
        var e = Thrown(() => throw new InvalidOperationException("the second line\nof the reason"));
        log.LogWarning(e, "something expected");
        log.LogError(e, "call input {Input} failed", "SocketEvent");
        var lines = log.Lines.Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(lines, Has.Count.EqualTo(2), "a multi-line exception message stays on its line");

        var warn = lines[0].GetProperty("exception");
        Assert.That(warn.GetProperty("type").GetString(), Is.EqualTo("System.InvalidOperationException"));
        Assert.That(warn.GetProperty("message").GetString(), Is.EqualTo("the second line\nof the reason"));
        Assert.That(warn.TryGetProperty("stack", out _), Is.False);
        Assert.That(lines[0].GetProperty("message").GetString(), Is.EqualTo("something expected"), "the message leaves the exception out");

        var error = lines[1].GetProperty("exception");
        Assert.That(error.GetProperty("stack").GetString(), Does.Contain(nameof(Thrown)));
    }

    private static Exception Thrown(Action a)
    {
        try { a(); }
        catch (Exception e) { return e; }
        throw new AssertionException("nothing thrown");
    }

    [Test]
    public void AWarningsExceptionNamesItsInnerCausesTimesAreIsoAndARepeatedNameIsOneKey()
    {
        var log = new FormatterLogger();
        var e = Thrown(() => throw new IOException("connect failed", new System.Net.Sockets.SocketException(111)));
        log.LogWarning(e, "link {Node} down at {At}; {Node} retried", "fs1", new DateTime(2025, 3, 4, 5, 6, 7, DateTimeKind.Utc), "fs1");
        Assert.That(log.Lines, Has.Count.EqualTo(1));
        var line = log.Last;
        Assert.That(line.GetProperty("exception").GetProperty("message").GetString(), Does.StartWith("connect failed ---> SocketException: "));
        Assert.That(line.GetProperty("fields").GetProperty("At").GetString(), Is.EqualTo("2025-03-04T05:06:07.0000000Z"));
        Assert.That(line.GetProperty("fields").EnumerateObject().Count(p => p.Name == "Node"), Is.EqualTo(1));
    }

    [Test]
    public void ControlCharactersAreEscapedAndTextStaysReadable()
    {
        var log = new FormatterLogger();
        log.LogWarning("restarted (Core-UUID {Before} → {Now}) \"quoted\"\r\nnext", "a", "b");
        Assert.That(log.Lines, Has.Count.EqualTo(1));
        Assert.That(log.Lines[0], Does.Contain("→"), "non-ASCII is written as is");
        Assert.That(log.Last.GetProperty("message").GetString(), Is.EqualTo("restarted (Core-UUID a → b) \"quoted\"\r\nnext"));
    }

    [Test]
    public void FieldValuesKeepTheirJsonKind()
    {
        var log = new FormatterLogger();
        log.LogInformation("{Int} {Long} {Bool} {Null} {Nan} {List} {Endpoint} {Enum}", 3, 4L, true, null, double.NaN, new[] { "a", "b" },
            new IPEndPoint(IPAddress.Loopback, 8084), LogLevel.Warning);
        var f = log.Last.GetProperty("fields");
        Assert.That(f.GetProperty("Int").GetInt32(), Is.EqualTo(3));
        Assert.That(f.GetProperty("Long").GetInt64(), Is.EqualTo(4));
        Assert.That(f.GetProperty("Bool").GetBoolean(), Is.True);
        Assert.That(f.GetProperty("Null").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(f.GetProperty("Nan").GetString(), Is.EqualTo("NaN"), "not a JSON number");
        Assert.That(f.GetProperty("List").GetString(), Is.EqualTo("a, b"));
        Assert.That(f.GetProperty("Endpoint").GetString(), Is.EqualTo("127.0.0.1:8084"));
        Assert.That(f.GetProperty("Enum").GetString(), Is.EqualTo("Warning"));
    }

    [Test]
    public void AnEntryWithoutMessageOrExceptionWritesNothing()
    {
        var log = new FormatterLogger();
        log.Log(LogLevel.Information, default, "state", null, (_, _) => null!);
        Assert.That(log.Lines, Is.Empty);
    }

    [Test]
    public void StartupFailureInJsonIsOneLineOnStdout()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        new StartupLog(json: true, stdout, stderr, new FakeTimeProvider(At)).Fail("bad configuration: RING_TIMEOUT=\"soon\": must be an integer");
        Assert.That(stderr.ToString(), Is.Empty);
        var lines = stdout.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1));
        var line = JsonDocument.Parse(lines[0]).RootElement;
        Assert.That(line.GetProperty("timestamp").GetString(), Is.EqualTo("2025-03-04T03:06:07.089Z"));
        Assert.That(line.GetProperty("level").GetString(), Is.EqualTo("critical"));
        Assert.That(line.GetProperty("category").GetString(), Is.EqualTo(StartupLog.Category));
        Assert.That(line.GetProperty("message").GetString(), Is.EqualTo("bad configuration: RING_TIMEOUT=\"soon\": must be an integer"));
    }

    [Test]
    public void StartupFailureInTextIsOneLineOnStderr()
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        new StartupLog(json: false, stdout, stderr).Fail("cannot start: METRICS_LISTEN=127.0.0.1:9464: cannot listen: port 9464 is already in use");
        Assert.That(stdout.ToString(), Is.Empty);
        Assert.That(stderr.ToString(), Is.EqualTo("redswitch: cannot start: METRICS_LISTEN=127.0.0.1:9464: cannot listen: port 9464 is already in use" + Environment.NewLine));
    }

    [Test]
    public void AnUnexpectedStartupFailureKeepsItsStack()
    {
        var e = Thrown(() => throw new NullReferenceException("a bug"));
        var json = new StringWriter();
        new StartupLog(json: true, json, TextWriter.Null).Fail("cannot start: unexpected NullReferenceException: a bug", e);
        var line = JsonDocument.Parse(json.ToString()).RootElement;
        Assert.That(line.GetProperty("exception").GetProperty("stack").GetString(), Does.Contain(nameof(Thrown)));
        var text = new StringWriter();
        new StartupLog(json: false, TextWriter.Null, text).Fail("cannot start: unexpected NullReferenceException: a bug", e);
        Assert.That(text.ToString(), Does.StartWith("redswitch: cannot start: unexpected NullReferenceException: a bug" + Environment.NewLine).And.Contain(nameof(Thrown)));
    }

    [Test]
    public void ListenFailuresInAnOperatorsWords()
    {
        // 203.0.113.9 (TEST-NET-3) is no address of this host: binding to it fails locally, nothing is sent.
        var foreign = new IPEndPoint(IPAddress.Parse("203.0.113.9"), 8084);
        using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var e = Thrown(() => s.Bind(foreign));
            Assert.That(LogText.ListenFailure(new AggregateException(e), foreign), Is.EqualTo("203.0.113.9 is not an address of this host"));
        }
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var at = (IPEndPoint)taken.LocalEndpoint;
        using (var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var e = Thrown(() => s.Bind(at));
            Assert.That(LogText.ListenFailure(new IOException("Failed to bind", e), at), Is.EqualTo($"port {at.Port} is already in use"));
        }
        Assert.That(LogText.ListenFailure(new InvalidOperationException("first\nsecond"), at), Is.EqualTo("first"));
    }
}
