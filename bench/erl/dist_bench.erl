%% The BEAM side of bench/dist.ts: a sink that counts messages, a sender, an echo and a
%% ping-pong client. Compiled and loaded by the bench into the erl nodes it starts.
-module(dist_bench).
-export([start_sink/1, sink/0, start_echo/1, echo/0, throughput/2, rtt/2]).

%% Registers a sink under Name. It waits for {start, N, ReportTo}, takes N messages
%% {msg, I, Payload} and sends `done` to ReportTo.
start_sink(Name) ->
    Pid = spawn(fun sink/0),
    register(Name, Pid),
    Pid.

sink() ->
    receive
        {start, N, ReportTo} ->
            sink_loop(N),
            ReportTo ! done,
            sink()
    end.

sink_loop(0) -> ok;
sink_loop(N) ->
    receive
        {msg, _, _} -> sink_loop(N - 1)
    end.

%% Registers an echo under Name: {From, M} -> From ! M.
start_echo(Name) ->
    Pid = spawn(fun echo/0),
    register(Name, Pid),
    Pid.

echo() ->
    receive
        {From, M} ->
            From ! M,
            echo()
    end.

%% Sends N messages to Dest (a sink) and waits for its `done`. Returns microseconds.
throughput(Dest, N) ->
    Dest ! {start, N, self()},
    T0 = erlang:monotonic_time(microsecond),
    send_loop(Dest, N),
    receive done -> ok end,
    erlang:monotonic_time(microsecond) - T0.

send_loop(_, 0) -> ok;
send_loop(Dest, I) ->
    Dest ! {msg, I, <<"payload">>},
    send_loop(Dest, I - 1).

%% N sequential round trips through an echo. Returns microseconds in all.
rtt(Dest, N) ->
    T0 = erlang:monotonic_time(microsecond),
    rtt_loop(Dest, N),
    erlang:monotonic_time(microsecond) - T0.

rtt_loop(_, 0) -> ok;
rtt_loop(Dest, N) ->
    Dest ! {self(), ping},
    receive ping -> ok end,
    rtt_loop(Dest, N - 1).
