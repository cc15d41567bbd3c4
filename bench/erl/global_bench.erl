%% The BEAM side of bench/global.ts: timed loops of global:register_name/2 and
%% global:whereis_name/1, and an idle process to own names. Compiled and loaded by the bench
%% into the erl nodes it starts.
-module(global_bench).
-export([idle/0, register_loop/2, whereis_loop/2, owner/1]).

%% A process that owns a name until it is told `stop` (or killed by a clash).
idle() ->
    spawn(fun() -> receive stop -> ok end end).

%% Registers N names {Prefix, I}, each to a fresh idle process, one after the other.
%% Returns the microseconds the N registrations took; then unregisters them (not timed).
register_loop(Prefix, N) ->
    Pids = [idle() || _ <- lists:seq(1, N)],
    Named = lists:zip(lists:seq(1, N), Pids),
    T0 = erlang:monotonic_time(microsecond),
    lists:foreach(fun({I, P}) -> yes = global:register_name({Prefix, I}, P) end, Named),
    T = erlang:monotonic_time(microsecond) - T0,
    lists:foreach(fun({I, P}) -> global:unregister_name({Prefix, I}), P ! stop end, Named),
    T.

%% N lookups of Name. Returns microseconds.
whereis_loop(Name, N) ->
    T0 = erlang:monotonic_time(microsecond),
    whereis_n(Name, N),
    erlang:monotonic_time(microsecond) - T0.

whereis_n(_, 0) -> ok;
whereis_n(Name, N) ->
    _ = global:whereis_name(Name),
    whereis_n(Name, N - 1).

%% The owner of Name here, or undefined.
owner(Name) ->
    global:whereis_name(Name).
