using System.Diagnostics;

namespace Redswitch.Simulator.Core;

/// <summary>A timer scheduled on the <see cref="CoreLoop"/>; <see cref="Cancel"/> stops it from running.</summary>
public interface ITimerHandle
{
    void Cancel();
}

/// <summary>
/// The switch's single thread: a FIFO of actions plus a timer heap. Every channel, call and ESL session is touched
/// only here, so no locks are needed in the model and no thread is held per channel. Idle, it blocks (no spinning).
/// </summary>
internal sealed class CoreLoop
{
    private sealed class Timer : ITimerHandle
    {
        public required Action Action;
        public volatile bool Cancelled;
        public void Cancel() => Cancelled = true;
    }

    private readonly object _lock = new();
    private readonly Queue<Action> _queue = new();
    private readonly PriorityQueue<Timer, long> _timers = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Action<Exception>? _onError;
    private bool _stopping;

    public CoreLoop(string name, Action<Exception>? onError)
    {
        _onError = onError;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public bool InLoop => Thread.CurrentThread == _thread;

    private static long Now => Stopwatch.GetTimestamp();

    /// <summary>Queues an action; false when the loop has stopped (the action will never run).</summary>
    public bool Execute(Action action)
    {
        lock (_lock)
        {
            if (_stopping) return false;
            _queue.Enqueue(action);
            if (_queue.Count == 1) Monitor.Pulse(_lock);
            return true;
        }
    }

    public ITimerHandle Schedule(Action action, TimeSpan delay)
    {
        var t = new Timer { Action = action };
        var due = Now + (long)(Math.Max(0, delay.TotalSeconds) * Stopwatch.Frequency);
        lock (_lock)
        {
            if (_stopping) return t;
            _timers.Enqueue(t, due);
            Monitor.Pulse(_lock);
        }
        return t;
    }

    public Task StopAsync()
    {
        lock (_lock)
        {
            _stopping = true;
            Monitor.Pulse(_lock);
        }
        return _stopped.Task;
    }

    private void Run()
    {
        try
        {
            while (true)
            {
                Action next;
                lock (_lock)
                {
                    while (true)
                    {
                        if (_stopping) return;
                        var now = Now;
                        while (_timers.TryPeek(out var t, out var due) && due <= now)
                        {
                            _timers.Dequeue();
                            if (!t.Cancelled) _queue.Enqueue(t.Action);
                        }
                        if (_queue.Count > 0) { next = _queue.Dequeue(); break; }
                        if (_timers.TryPeek(out _, out var nextDue))
                        {
                            var ms = (nextDue - now) * 1000 / Stopwatch.Frequency;
                            Monitor.Wait(_lock, (int)Math.Clamp(ms + 1, 1, int.MaxValue));
                        }
                        else Monitor.Wait(_lock);
                    }
                }
                try { next(); }
                catch (Exception e) { try { _onError?.Invoke(e); } catch (Exception) { /* never let logging kill the loop */ } }
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }
}
