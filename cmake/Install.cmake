# Install rules (`cmake --install`): binaries, web pages, sample configurations, man pages and
# the systemd unit, in GNUInstallDirs places. Included once from the root CMakeLists.txt, after
# tolk-server is defined; tolk-receiver is installed if its target exists once the whole tree is
# configured (its directory may come later in the root file, hence the deferred call).
#
#   TOLK_INSTALL_CONFIG   also put config/tolk.conf where tolk-server looks for it when run with no
#                         -c (SYSCONFDIR/tolk/tolk.conf: /etc/tolk/tolk.conf for the /usr prefix),
#                         mode 0640: it holds the tech token and PINs. Off: only share/doc examples.
#   TOLK_INSTALL_SYSTEMD  install the systemd units and the sysusers.d entry of the `tolk` user
#                         (default on for the /usr prefix).
# Either part can also be installed alone: cmake --install BUILD --component config|systemd.
include(GNUInstallDirs)

if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_tolk_systemd_default ON)
else()
  set(_tolk_systemd_default OFF)
endif()
option(TOLK_INSTALL_CONFIG "Install config/tolk.conf as SYSCONFDIR/tolk/tolk.conf" OFF)
option(TOLK_INSTALL_SYSTEMD "Install the systemd unit and sysusers.d file" ${_tolk_systemd_default})

# Where an installed tolk-server finds its pages and its default config, for server/net/server.c
# and server/main.c: the installed paths when the binary runs outside TOLK_BUILD_TREE and they
# exist, else the source tree (TOLK_SOURCE_WEB_ROOT) and config/tolk.conf.
set(TOLK_INSTALLED_WEB_ROOT "${CMAKE_INSTALL_FULL_DATADIR}/tolk/web")
set(TOLK_INSTALLED_CONFIG "${CMAKE_INSTALL_FULL_SYSCONFDIR}/tolk/tolk.conf")
target_compile_definitions(tolk-server-core PRIVATE
  TOLK_INSTALLED_WEB_ROOT="${TOLK_INSTALLED_WEB_ROOT}"
  TOLK_BUILD_TREE="${PROJECT_BINARY_DIR}")
target_compile_definitions(tolk-server PRIVATE
  TOLK_INSTALLED_CONFIG="${TOLK_INSTALLED_CONFIG}"
  TOLK_BUILD_TREE="${PROJECT_BINARY_DIR}")

# The config goes where the binary looks. When that is outside the prefix (/etc for the /usr
# prefix, /etc/opt/... for /opt/...) the destination is absolute: `--prefix` at install time does
# not move it, DESTDIR still does.
if(CMAKE_INSTALL_FULL_SYSCONFDIR STREQUAL "${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_SYSCONFDIR}")
  set(_tolk_confdir "${CMAKE_INSTALL_SYSCONFDIR}/tolk")
else()
  set(_tolk_confdir "${CMAKE_INSTALL_FULL_SYSCONFDIR}/tolk")
endif()

install(TARGETS tolk-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)

# The pages, with tech/ and vendor/ (vendor/ exists after tools/vendor-web.sh).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/client/web/ DESTINATION ${CMAKE_INSTALL_DATADIR}/tolk/web
  COMPONENT runtime PATTERN "*.py" EXCLUDE)
install(CODE "
  if(NOT EXISTS \"${PROJECT_SOURCE_DIR}/client/web/vendor/opus-decoder\")
    message(WARNING \"client/web/vendor/ is missing: run tools/vendor-web.sh before installing, \"
                    \"or phones on plain http will have no Opus decoder\")
  endif()" COMPONENT runtime)

set(_tolk_examples ${PROJECT_SOURCE_DIR}/config/tolk.conf ${PROJECT_SOURCE_DIR}/config/venue-example.conf)
install(FILES ${_tolk_examples} DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT runtime)
if(EXISTS ${PROJECT_SOURCE_DIR}/docs/venue.md)
  install(FILES ${PROJECT_SOURCE_DIR}/docs/venue.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
endif()

install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tolk-server.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)

if(TOLK_INSTALL_CONFIG)
  set(_tolk_config_all "")
else()
  set(_tolk_config_all EXCLUDE_FROM_ALL)
endif()
install(FILES ${PROJECT_SOURCE_DIR}/config/tolk.conf DESTINATION ${_tolk_confdir}
  PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ COMPONENT config ${_tolk_config_all})

# The unit names the installed binary and config: dist/tolk-server.service says /usr/bin and
# /etc/tolk, rewritten here for other prefixes.
file(READ ${PROJECT_SOURCE_DIR}/dist/tolk-server.service _tolk_unit)
string(REPLACE "/usr/bin/tolk-server" "${CMAKE_INSTALL_FULL_BINDIR}/tolk-server" _tolk_unit "${_tolk_unit}")
string(REPLACE "/etc/tolk/tolk.conf" "${TOLK_INSTALLED_CONFIG}" _tolk_unit "${_tolk_unit}")
file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/dist/tolk-server.service CONTENT "${_tolk_unit}" @ONLY)
set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
  ${PROJECT_SOURCE_DIR}/dist/tolk-server.service)
if(TOLK_INSTALL_SYSTEMD)
  set(_tolk_systemd_all "")
else()
  set(_tolk_systemd_all EXCLUDE_FROM_ALL)
endif()
# lib/, not LIBDIR (lib/x86_64-linux-gnu on Debian): systemd reads PREFIX/lib/systemd/system.
install(FILES ${PROJECT_BINARY_DIR}/dist/tolk-server.service
  DESTINATION lib/systemd/system COMPONENT systemd ${_tolk_systemd_all})
install(FILES ${PROJECT_SOURCE_DIR}/dist/tolk.sysusers.conf RENAME tolk.conf
  DESTINATION lib/sysusers.d COMPONENT systemd ${_tolk_systemd_all})

# tolk-receiver, its man page and its template unit (dist/tolk-receiver@.service, the binary's
# path rewritten like the server's), once the whole tree has been read.
function(tolk_install_receiver)
  if(TARGET tolk-receiver)
    install(TARGETS tolk-receiver RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
    install(FILES ${PROJECT_SOURCE_DIR}/docs/man/tolk-receiver.1
      DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT runtime)
    file(READ ${PROJECT_SOURCE_DIR}/dist/tolk-receiver@.service _unit)
    string(REPLACE "/usr/bin/tolk-receiver" "${CMAKE_INSTALL_FULL_BINDIR}/tolk-receiver" _unit
      "${_unit}")
    file(CONFIGURE OUTPUT ${PROJECT_BINARY_DIR}/dist/tolk-receiver@.service CONTENT "${_unit}"
      @ONLY)
    set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
      ${PROJECT_SOURCE_DIR}/dist/tolk-receiver@.service)
    install(FILES ${PROJECT_BINARY_DIR}/dist/tolk-receiver@.service
      DESTINATION lib/systemd/system COMPONENT systemd ${_tolk_systemd_all})
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL tolk_install_receiver)
