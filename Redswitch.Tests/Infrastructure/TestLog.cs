using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Redswitch.Tests.Infrastructure;

/// <summary>Collects log lines in memory; tests print them when they fail.</summary>
public sealed class TestLog : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly string _prefix;

    public TestLog(string prefix = "") => _prefix = prefix;

    public IReadOnlyCollection<string> Lines => _lines;

    /// <summary>Lines that carry an exception, all of them (<see cref="Lines"/> keeps only the last 5000).</summary>
    public IReadOnlyCollection<string> Exceptions => _exceptions;
    private readonly ConcurrentQueue<string> _exceptions = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    public string Dump() => string.Join("\n", _lines);

    private sealed class Logger(TestLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var line = $"{DateTime.UtcNow:HH:mm:ss.fff} {owner._prefix}{logLevel.ToString()[..4]} {category}: {formatter(state, exception)}";
            if (exception is not null)
            {
                line += " " + exception;
                owner._exceptions.Enqueue(line);
            }
            owner._lines.Enqueue(line);
            if (owner._lines.Count > 5000) owner._lines.TryDequeue(out _);
        }
    }
}
